import { loadavg } from "node:os";
import { Command, InvalidArgumentError } from "commander";
import { RedisServerProcess } from "../test/support/redis-server-process.js";
import { LatenessRecorder } from "./lib/lateness.js";
import { note } from "./lib/progress.js";
import { formatNumber, markdownTable } from "./lib/table.js";
import { renderPng } from "./plot/plot.js";
import { openBullmq } from "./runners/bullmq.js";
import { openCheckback } from "./runners/checkback.js";
import { openPgBoss } from "./runners/pgboss.js";
import type { BenchSystem } from "./runners/system.js";
import { fireBurstLive } from "./scenarios/burst.js";
import type { ScenarioSettings } from "./scenarios/settings.js";

/**
 * The burst's firing lateness as distributions, side by side: checkback on SQLite, on Redis and
 * on PostgreSQL, BullMQ and pg-boss, each running the live half of the burst scenario (N jobs
 * due at random within --max-delay, added while the worker runs) one after the other in this
 * process. Redis-backed systems use a redis-server of the run's own; PostgreSQL-backed ones
 * DATABASE_URL (default the local test database), each in a schema of its own, dropped after.
 * Prints p50/p99/max and draws the CDFs.
 *
 *   npx tsx bench/burst-cdf.ts [--jobs 50000] [--systems sqlite,postgres,pgboss] [--plot docs/benchmarks/burst-lateness-cdf.png]
 */
const SYSTEMS = {
  sqlite: { server: null, open: () => openCheckback("sqlite", { redisUrl: "" }) },
  redis: { server: "redis", open: (redisUrl: string) => openCheckback("redis", { redisUrl }) },
  postgres: { server: "postgres", open: () => openCheckback("postgres", { redisUrl: "" }) },
  bullmq: { server: "redis", open: (redisUrl: string) => openBullmq(redisUrl) },
  pgboss: { server: "postgres", open: () => openPgBoss({ refetchWhenFull: true }) },
} satisfies Record<string, { server: "redis" | "postgres" | null; open(redisUrl: string): Promise<BenchSystem> }>;
type SystemKey = keyof typeof SYSTEMS;

function systemList(value: string): SystemKey[] {
  const keys = value.split(",").map((key) => key.trim());
  for (const key of keys) {
    if (!(key in SYSTEMS)) throw new InvalidArgumentError(`expected a list of ${Object.keys(SYSTEMS).join(", ")}`);
  }
  return keys as SystemKey[];
}

const program = new Command("bench-burst-cdf")
  .option("--jobs <n>", "jobs in the burst", Number, 50_000)
  .option("--max-delay <ms>", "jobs are due within this many ms", Number, 5_000)
  .option(
    "--systems <list>",
    "comma-separated, run in the order given: sqlite, redis, postgres (checkback on that store), bullmq, pgboss",
    systemList,
    Object.keys(SYSTEMS) as SystemKey[],
  )
  .option("--redis-port <port>", "port for the private redis-server", Number, 6452)
  .option("--plot <png>", "write the CDF chart here");
program.parse();
const o = program.opts<{ jobs: number; maxDelay: number; systems: SystemKey[]; redisPort: number; plot?: string }>();

const settings: ScenarioSettings = {
  jobs: o.jobs,
  concurrency: 50,
  maxDelayMs: o.maxDelay,
  batch: 1_000,
  rate: 0,
  lightSeconds: 0,
  pending: 0,
  farDelayMs: 0,
};

const loadBefore = loadavg()[0]!;
const uses = (server: "redis" | "postgres") => o.systems.some((key) => SYSTEMS[key].server === server);
const server = uses("redis") ? new RedisServerProcess(o.redisPort, ["--appendonly", "no"]) : null;
await server?.start();
const results: { label: string; lateness: LatenessRecorder; liveRate: number }[] = [];
try {
  for (const key of o.systems) {
    const system = await SYSTEMS[key].open(server?.url ?? "");
    try {
      const lateness = new LatenessRecorder();
      const { liveWallMs } = await fireBurstLive(system, settings, `${process.pid}`, lateness);
      results.push({ label: system.label, lateness, liveRate: o.jobs / (liveWallMs / 1000) });
      note(`${system.label}: p99 ${lateness.summary().p99} ms`);
    } finally {
      await system.close();
    }
  }
} finally {
  await server?.stop();
}

process.stdout.write(
  `${o.jobs.toLocaleString("en")} jobs due within ${o.maxDelay} ms, added while the worker runs (concurrency 50); load average ${loadBefore.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}\n\n${markdownTable(
    ["system", "p50 (ms)", "p90 (ms)", "p99 (ms)", "max (ms)", "early", "live jobs/s"],
    results.map(({ label, lateness, liveRate }) => {
      const s = lateness.summary();
      const p90 = lateness.cdf().ms[lateness.cdf().fraction.findIndex((f) => f >= 0.9)];
      return [
        label,
        formatNumber(s.p50),
        formatNumber(p90),
        formatNumber(s.p99),
        formatNumber(s.max),
        String(s.early),
        formatNumber(liveRate),
      ];
    }),
  )}\n`,
);
if (o.plot) {
  await renderPng(
    {
      title: "Burst: firing lateness distribution",
      subtitle: `${o.jobs.toLocaleString("en")} jobs due at random within ${o.maxDelay / 1000} s, added while the worker runs, concurrency 50${server ? ", one private redis-server" : ""}${uses("postgres") ? ", the local PostgreSQL" : ""}; bench/burst-cdf.ts`,
      columns: 1,
      chartWidth: 900,
      charts: [
        {
          kind: "lines",
          title: "fraction of jobs fired within x ms of their due instant",
          xLabel: "lateness (ms, log scale)",
          yLabel: "fraction of jobs",
          xLog: true,
          series: results.map(({ label, lateness }) => {
            const { ms, fraction } = lateness.cdf();
            return { label, x: ms, y: fraction, stepped: true };
          }),
        },
      ],
    },
    o.plot,
  );
  note(`wrote ${o.plot}`);
}
