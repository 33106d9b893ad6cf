import { loadavg } from "node:os";
import { Command } from "commander";
import { RedisServerProcess } from "../test/support/redis-server-process.js";
import { LatenessRecorder } from "./lib/lateness.js";
import { note } from "./lib/progress.js";
import { formatNumber, markdownTable } from "./lib/table.js";
import { renderPng } from "./plot/plot.js";
import { openBullmq } from "./runners/bullmq.js";
import { openCheckback } from "./runners/checkback.js";
import type { BenchSystem } from "./runners/system.js";
import { fireBurstLive } from "./scenarios/burst.js";
import type { ScenarioSettings } from "./scenarios/settings.js";

/**
 * The burst's firing lateness as distributions, side by side: checkback on SQLite and on Redis,
 * and BullMQ, each running the live half of the burst scenario (N jobs due at random within
 * --max-delay, added while the worker runs) one after the other in this process, on a
 * redis-server of the run's own. Prints p50/p99/max and draws the CDFs.
 *
 *   npx tsx bench/burst-cdf.ts [--jobs 50000] [--plot docs/benchmarks/burst-lateness-cdf.png]
 */
const program = new Command("bench-burst-cdf")
  .option("--jobs <n>", "jobs in the burst", Number, 50_000)
  .option("--max-delay <ms>", "jobs are due within this many ms", Number, 5_000)
  .option("--redis-port <port>", "port for the private redis-server", Number, 6452)
  .option("--plot <png>", "write the CDF chart here");
program.parse();
const o = program.opts<{ jobs: number; maxDelay: number; redisPort: number; plot?: string }>();

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
const server = new RedisServerProcess(o.redisPort, ["--appendonly", "no"]);
await server.start();
const results: { label: string; lateness: LatenessRecorder; liveRate: number }[] = [];
try {
  const openers: (() => Promise<BenchSystem>)[] = [
    () => openCheckback("sqlite", { redisUrl: server.url }),
    () => openCheckback("redis", { redisUrl: server.url }),
    () => openBullmq(server.url),
  ];
  for (const open of openers) {
    const system = await open();
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
  await server.stop();
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
      subtitle: `${o.jobs.toLocaleString("en")} jobs due at random within ${o.maxDelay / 1000} s, added while the worker runs, concurrency 50, one private redis-server; bench/burst-cdf.ts`,
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
