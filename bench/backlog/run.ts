import { readFile, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { Command } from "commander";
import { note } from "../lib/progress.js";
import { formatNumber, markdownTable } from "../lib/table.js";
import type { ScenarioSettings } from "../scenarios/settings.js";
import { backlogFigure } from "./figure.js";
import type { RedisBacklogResult } from "./redis.js";
import type { SqliteBacklogResult } from "./sqlite.js";

/**
 * A very large backlog: on SQLite, far-future jobs added until --jobs (default ten million) or
 * --max-seconds of adding, with the add rate, RSS and file size per segment and the near-due
 * lateness with and without the backlog; on Redis (a private redis-server), bytes per job and
 * the add and claim rates per segment at --redis-jobs. Everything is deleted afterwards.
 *
 *   npx tsx bench/backlog/run.ts [--stores sqlite,redis] [--jobs 10000000] [--max-seconds 300]
 *     [--redis-jobs 1000000] [--plot docs/benchmarks/backlog.png] [--out backlog.json]
 */
const list = (value: string) => value.split(",").filter(Boolean);
const program = new Command("bench-backlog")
  .option("--stores <list>", "sqlite, redis", list, ["sqlite", "redis"])
  .option("--jobs <n>", "SQLite: far-future jobs to reach", Number, 10_000_000)
  .option("--max-seconds <n>", "SQLite: stop adding after this long", Number, 300)
  .option("--every <n>", "jobs per measured segment", Number, 250_000)
  .option("--batch <n>", "jobs per addBulk call", Number, 1_000)
  .option("--rate <n>", "near-due jobs per second in the lateness runs", Number, 1_000)
  .option("--light-seconds <n>", "length of each lateness run", Number, 10)
  .option("--redis-jobs <n>", "Redis: far-future jobs, then as many due-now jobs drained", Number, 1_000_000)
  .option("--redis-port <port>", "port for the private redis-server", Number, 6451)
  .option("--plot <png>", "write the charts here")
  .option("--out <json>", "write the raw results here")
  .option("--from <json>", "take the results of stores not in --stores from an earlier --out");
program.parse();
const o = program.opts<{
  stores: string[];
  jobs: number;
  maxSeconds: number;
  every: number;
  batch: number;
  rate: number;
  lightSeconds: number;
  redisJobs: number;
  redisPort: number;
  plot?: string;
  out?: string;
  from?: string;
}>();
const earlier: { sqlite: SqliteBacklogResult | null; redis: RedisBacklogResult | null } = o.from
  ? JSON.parse(await readFile(o.from, "utf8"))
  : { sqlite: null, redis: null };

const settings: ScenarioSettings = {
  jobs: 0,
  concurrency: 50,
  maxDelayMs: 5_000,
  batch: o.batch,
  rate: o.rate,
  lightSeconds: o.lightSeconds,
  pending: o.jobs,
  farDelayMs: 30 * 86_400_000,
};

const loadBefore = loadavg();
note(`process RSS before any job: ${(process.memoryUsage.rss() / 1024 / 1024).toFixed(0)} MB`);
// Each store's module is loaded only when its backlog is built: a SQLite-only run must not carry
// ioredis and the Redis runner in the process whose RSS it reports.
const sqlite = o.stores.includes("sqlite")
  ? await (await import("./sqlite.js")).sqliteBacklog(settings, {
      target: o.jobs,
      maxSeconds: o.maxSeconds,
      every: o.every,
    })
  : earlier.sqlite;
const redis = o.stores.includes("redis")
  ? await (await import("./redis.js")).redisBacklog({
      jobs: o.redisJobs,
      batch: o.batch,
      every: Math.min(o.every, o.redisJobs / 10),
      port: o.redisPort,
    })
  : null;
const loadAfter = loadavg();

const out: string[] = [
  `load average before ${loadBefore.map((l) => l.toFixed(2)).join(" ")}, after ${loadAfter.map((l) => l.toFixed(2)).join(" ")}`,
  "",
];
if (sqlite) {
  const s = sqlite.segments;
  const last = s.at(-1)!;
  out.push(
    `SQLite: ${formatNumber(sqlite.reached)} far-future jobs${sqlite.stoppedByTime ? ` (stopped by --max-seconds ${o.maxSeconds}; target ${formatNumber(sqlite.target)})` : ""} in ${last.elapsedSeconds.toFixed(0)} s`,
    "",
    markdownTable(
      ["pending at segment end", "add jobs/s in segment", "process RSS (MB)", "file + WAL (MB)"],
      s.map((g) => [formatNumber(g.count), formatNumber(g.rate), formatNumber(g.rssMB), formatNumber(g.storeMB)]),
    ),
    "",
    `database bytes per job: ${formatNumber(sqlite.dbBytesPerJob)}; process RSS peak ${formatNumber(sqlite.rssPeakMB)} MB`,
    "",
    markdownTable(
      ["near-due lateness (ms)", "empty store", `beside ${formatNumber(sqlite.reached)} pending`],
      (["latenessP50", "latenessP95", "latenessP99", "latenessMax", "earlyStarts", "lightJobs"] as const).map((key) => [
        key,
        formatNumber(sqlite.baseline[key]),
        formatNumber(sqlite.withBacklog[key]),
      ]),
    ),
    "",
  );
}
if (redis) {
  out.push(
    `Redis (private redis-server): ${formatNumber(redis.jobs)} far-future jobs, ${redis.bytesPerJob.toFixed(1)} bytes per job (INFO used_memory growth)`,
    "",
    markdownTable(
      [
        "jobs at segment end",
        "far-future add jobs/s",
        "used_memory growth (MB)",
        "due-now drain jobs/s (claim + complete)",
      ],
      redis.addSegments.map((g, i) => [
        formatNumber(g.count),
        formatNumber(g.rate),
        formatNumber(g.storeMB),
        formatNumber(redis.drainSegments[i]?.rate),
      ]),
    ),
    "",
  );
}
process.stdout.write(`${out.join("\n")}\n`);
if (o.out) await writeFile(o.out, `${JSON.stringify({ sqlite, redis }, null, 2)}\n`);
if (o.plot) {
  // Loaded only now: playwright-core alone would add tens of MB to the RSS the run measures.
  const { renderPng } = await import("../plot/plot.js");
  await renderPng(backlogFigure(sqlite, redis), o.plot);
  note(`wrote ${o.plot}`);
}
