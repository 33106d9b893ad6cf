import { type ChildProcess, fork } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Queue as BullQueue } from "bullmq";
import { Command, InvalidArgumentError, Option } from "commander";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { describeMachine, type Machine } from "../lib/machine.js";
import { note } from "../lib/progress.js";
import { formatNumber, markdownTable } from "../lib/table.js";
import { startsPerWindow, type WindowReport } from "../lib/windows.js";
import { BULLMQ_PREFIX } from "../runners/bullmq.js";
import { cpuSnapshot, cpuUsedBetween } from "../scale/cpu.js";
import { cleanupTarget, openTargetStore, postgresTarget, storePids, type Target } from "../scale/targets.js";
import type { RateProcessMessage, RateProcessSpec } from "./protocol.js";

/**
 * Rate-limit accuracy: a queue limited to `--rate` starts a second, drained by `--workers`
 * workers spread over `--processes` worker processes for `--seconds`, with a backlog that
 * never runs dry (every job due at the start). Each start's instant comes from the job record
 * (the store's clock); the figures are counts per 1-s window, which a loaded machine cannot
 * inflate: the mean of the steady windows against the rate, the busiest window, and whether
 * any span saw more starts than the bucket plus the steady refill allows. BullMQ runs the same
 * load with its own limiter (`limiter: { max, duration }` on each Worker), side by side.
 *
 *   npm run bench -- --scenario rate-limit [--stores sqlite,redis,postgres] [--seconds 60] [--no-bullmq]
 */
/** cluster: a queue partitioned over a Redis Cluster (--cluster), whose limit is taken, claimed and given back per partition. */
const STORE_NAMES = ["sqlite", "redis", "postgres", "cluster"] as const;
const DEFAULT_STORES: StoreName[] = ["sqlite", "redis", "postgres"];
type StoreName = (typeof STORE_NAMES)[number];

interface Options {
  stores: StoreName[];
  bullmq: boolean;
  rate: number;
  seconds: number;
  workers: number;
  processes: number;
  concurrency: number;
  redisUrl: string;
  cluster: string;
  settle: number;
  out?: string;
  from?: string;
}

function positiveInt(value: string): number {
  const n = Number(value.replaceAll("_", ""));
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected an integer ≥ 0");
  return n;
}

function storeList(value: string): StoreName[] {
  const names = value.split(",").filter(Boolean);
  for (const name of names) {
    if (!(STORE_NAMES as readonly string[]).includes(name)) {
      throw new InvalidArgumentError(`stores are ${STORE_NAMES.join(", ")}`);
    }
  }
  return names as StoreName[];
}

const program = new Command("bench-rate-limit")
  .description("rate-limit accuracy: starts per 1-s window under a limit, several worker processes, beside BullMQ")
  .option("--stores <list>", `checkback stores (${STORE_NAMES.join(", ")})`, storeList, DEFAULT_STORES)
  .option("--no-bullmq", "skip the BullMQ side")
  .option("--rate <n>", "the limit: starts per second", positiveInt, 1_000)
  .option("--seconds <n>", "how long each system runs under the limit", positiveInt, 60)
  .option("--workers <n>", "worker instances in all, each with its own claim loop", positiveInt, 10)
  .option("--processes <n>", "worker processes the workers are spread over", positiveInt, 3)
  .option("--concurrency <n>", "concurrency of each worker", positiveInt, 10)
  .addOption(
    new Option("--redis-url <url>", "Redis for the Redis store and BullMQ").default(
      process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
    ),
  )
  .option(
    "--cluster <nodes>",
    "Redis Cluster seed nodes for --stores cluster",
    "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003",
  )
  .option(
    "--settle <n>",
    "whole windows left out of the mean and min / max (the bucket's first burst)",
    nonNegativeInt,
    5,
  )
  .option("--out <json>", "also write every figure, with the per-window counts, here")
  .option("--from <json>", "no run: the tables from an earlier --out");

const PER_MS = 1_000;
/** The backlog: enough for the whole run at the limit and its tail, the bucket's first burst, and a margin. */
const backlogFor = (o: Options) => Math.ceil(o.rate * (o.seconds + 3) * 1.05) + o.rate;
const processPath = fileURLToPath(new URL("./rate-process.ts", import.meta.url));
const runId = `${process.pid}_${Date.now().toString(36)}`;

interface SystemResult {
  system: string;
  loadAverage: [number, number];
  windows: WindowReport;
  handlerSlidingMax: number;
  /** Jobs still waiting when the run stopped: more than 0, or the backlog ran dry. */
  leftover: number;
  /** CPU seconds of the worker processes per second of run: how busy honouring the limit keeps them. */
  workerCores: number;
  /** Same for the store's server processes (PostgreSQL backends; the whole Redis server), null for SQLite. */
  storeCores: number | null;
}

/** Windows after the first `settle`: once the bucket's first burst and any tokens left from a slow start are spent. */
function settled(perWindow: number[], settle: number): { mean: number; min: number; max: number } | null {
  const rest = perWindow.slice(settle);
  if (rest.length === 0) return null;
  return { mean: rest.reduce((a, b) => a + b, 0) / rest.length, min: Math.min(...rest), max: Math.max(...rest) };
}

async function main(options: Options): Promise<void> {
  if (options.from) {
    const saved = JSON.parse(readFileSync(options.from, "utf8")) as {
      machine: Machine;
      options: Options;
      results: SystemResult[];
    };
    render(saved.machine, { ...saved.options, settle: options.settle }, saved.results);
    return;
  }
  const machine = await describeMachine(options.redisUrl);
  const results: SystemResult[] = [];
  for (const store of options.stores) results.push(await runCheckback(store, options));
  if (options.bullmq) results.push(await runBullmq(options));
  render(machine, options, results);
  if (options.out) writeFileSync(options.out, `${JSON.stringify({ machine, options, results }, null, 2)}\n`);
}

function render(machine: Machine, options: Options, results: SystemResult[]): void {
  const bucket = options.rate;
  const after = `windows ${options.settle + 1}–${options.seconds}`;
  const header = [
    "system",
    "load avg (start → end)",
    `starts in ${options.seconds} s (most: ${formatNumber(options.rate * options.seconds + bucket)})`,
    `mean starts/s, ${after}`,
    "mean vs limit",
    `min / max 1-s window, ${after}`,
    "first window",
    `busiest 1-s window, any start (bound: ${formatNumber(options.rate + bucket)})`,
    "busiest 1-s window after the first second",
    `burst above refill (bound: bucket ${formatNumber(bucket)})`,
    "handlers begun, busiest 1-s window",
    "worker processes CPU (cores)",
    "store CPU (cores; Redis: the whole server)",
  ];
  const rows = results.map((r) => {
    const w = r.windows;
    const late = settled(w.perWindow, options.settle);
    const deviation = late === null ? null : (late.mean / options.rate - 1) * 100;
    return [
      r.system,
      `${r.loadAverage[0].toFixed(1)} → ${r.loadAverage[1].toFixed(1)}`,
      formatNumber(w.starts),
      formatNumber(late?.mean, 1),
      deviation === null ? "–" : `${deviation >= 0 ? "+" : ""}${deviation.toFixed(2)} %`,
      `${formatNumber(late?.min)} / ${formatNumber(late?.max)}`,
      formatNumber(w.perWindow[0]),
      formatNumber(w.slidingMax),
      formatNumber(w.steadySlidingMax),
      formatNumber(w.burst, 0),
      formatNumber(r.handlerSlidingMax),
      r.workerCores.toFixed(2),
      r.storeCores === null ? "–" : r.storeCores.toFixed(2),
    ];
  });
  const verdicts = results.map((r) => {
    const w = r.windows;
    const late = settled(w.perWindow, options.settle);
    const within = late !== null && Math.abs(late.mean / options.rate - 1) <= 0.02;
    const noBurst = w.slidingMax <= options.rate + bucket && w.burst <= bucket + 1e-9;
    return `- ${r.system}: mean within ±2 %: ${within ? "yes" : "NO"}; no burst above the bucket: ${noBurst ? "yes" : "NO"}${r.leftover > 0 ? "" : "; the backlog ran dry, the figures undercount"}`;
  });
  process.stdout.write(
    [
      `Machine: ${machine.cpus} CPUs (${machine.cpuModel}), Node ${machine.node}, Redis ${machine.redis ?? "–"}`,
      `Limit ${formatNumber(options.rate)} starts/s (bucket ${formatNumber(bucket)}), ${options.workers} workers × concurrency ${options.concurrency} in ${options.processes} processes, ${options.seconds} s each, backlog ${formatNumber(backlogFor(options))} jobs due at the start`,
      "",
      markdownTable(header, rows),
      "",
      ...verdicts,
      "",
    ].join("\n"),
  );
}

async function runCheckback(kind: StoreName, options: Options): Promise<SystemResult> {
  const { target, remove } = makeTarget(kind, options);
  const queue = `rate_${runId}`;
  try {
    note(`\n== checkback (${kind}): filling ${formatNumber(backlogFor(options))} jobs`);
    const opened = openTargetStore(target);
    const checkback = new Checkback({ store: opened.store });
    const q = checkback.queue<{ n: number }>(queue);
    const total = backlogFor(options);
    for (let done = 0; done < total; done += 1_000) {
      await q.addBulk(Array.from({ length: Math.min(1_000, total - done) }, (_, i) => ({ payload: { n: done + i } })));
    }
    await q.limit({ rate: options.rate, per: `${PER_MS}ms` });
    const run = await runProcesses(`checkback (${kind})`, options, { system: "checkback", target, queue }, target);
    const counts = await q.counts();
    await checkback.close();
    await opened.close();
    return { ...run, leftover: counts.scheduled + counts.active };
  } finally {
    await cleanupTarget(target).catch((error) => note(`clean-up of ${kind} failed: ${(error as Error).message}`));
    remove();
  }
}

async function runBullmq(options: Options): Promise<SystemResult> {
  const queue = `rate_${runId}`;
  const connection = { url: options.redisUrl };
  const q = new BullQueue(queue, { connection, prefix: BULLMQ_PREFIX });
  try {
    note(`\n== BullMQ: filling ${formatNumber(backlogFor(options))} jobs`);
    const total = backlogFor(options);
    for (let done = 0; done < total; done += 1_000) {
      await q.addBulk(
        Array.from({ length: Math.min(1_000, total - done) }, (_, i) => ({
          name: "job",
          data: { n: done + i },
          opts: { removeOnComplete: 1000 },
        })),
      );
    }
    const run = await runProcesses("BullMQ", options, { system: "bullmq", target: null, queue }, null);
    const counts = await q.getJobCounts("wait", "active", "prioritized", "delayed");
    return { ...run, leftover: Object.values(counts).reduce((a, b) => a + b, 0) };
  } finally {
    await q.obliterate({ force: true, count: 10_000 });
    await q.close();
  }
}

function makeTarget(kind: StoreName, options: Options): { target: Target; remove(): void } {
  if (kind === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "checkback-rate-"));
    return {
      target: { kind: "sqlite", path: join(dir, "rate.db") },
      remove: () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  if (kind === "redis") {
    return { target: { kind: "redis", url: options.redisUrl, prefix: `checkback-rate-${runId}` }, remove: () => {} };
  }
  if (kind === "cluster") {
    const nodes = options.cluster.split(",").map((hostPort) => {
      const [host, port] = hostPort.split(":");
      return { host: host!, port: Number(port) };
    });
    return { target: { kind: "cluster", nodes, prefix: `checkback-rate-${runId}` }, remove: () => {} };
  }
  return { target: postgresTarget(runId), remove: () => {} };
}

/** Splits `workers` over `processes` as evenly as can be: 10 over 3 is 4, 3, 3. */
function spread(workers: number, processes: number): number[] {
  const count = Math.min(workers, processes);
  return Array.from({ length: count }, (_, i) => Math.floor(workers / count) + (i < workers % count ? 1 : 0));
}

interface Child {
  child: ChildProcess;
  ready: Promise<void>;
  starts(): number;
  result: Promise<{ startedAt: number[]; handlerAt: number[] }>;
}

function startProcess(spec: RateProcessSpec): Child {
  const child = fork(processPath, [JSON.stringify(spec)], {
    execArgv: ["--import", import.meta.resolve("tsx")],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let starts = 0;
  let markReady: () => void;
  let finish: (value: { startedAt: number[]; handlerAt: number[] }) => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const result = new Promise<{ startedAt: number[]; handlerAt: number[] }>((resolve, reject) => {
    finish = resolve;
    child.once("exit", (code) => reject(new Error(`worker process ${child.pid} exited with ${code}`)));
  });
  child.on("message", (message: RateProcessMessage) => {
    if (message.type === "ready") markReady();
    else if (message.type === "progress") starts = message.starts;
    else finish({ startedAt: message.startedAt, handlerAt: message.handlerAt });
  });
  return { child, ready, starts: () => starts, result };
}

async function runProcesses(
  label: string,
  options: Options,
  base: Pick<RateProcessSpec, "system" | "target" | "queue">,
  target: Target | null,
): Promise<Omit<SystemResult, "leftover">> {
  const children = spread(options.workers, options.processes).map((workers) =>
    startProcess({
      ...base,
      redisUrl: options.redisUrl,
      workers,
      concurrency: options.concurrency,
      limit: { rate: options.rate, perMs: PER_MS },
    }),
  );
  await Promise.race([Promise.all(children.map((c) => c.ready)), ...children.map((c) => c.result)]);
  const pids = children.map((c) => c.child.pid!);
  const serverPids = target ? await storePids(target) : await redisServerPid(options.redisUrl);
  const loadStart = loadavg()[0]!;
  const workerCpu = cpuSnapshot(pids);
  const serverCpu = cpuSnapshot(serverPids);
  const go = performance.now();
  for (const c of children) c.child.send("go");
  note(
    `${label}: ${options.workers} workers in ${children.length} processes, ${options.seconds} s under ${formatNumber(options.rate)}/s`,
  );

  let lastReport = go;
  let lastStarts = 0;
  const runMs = options.seconds * 1_000 + 1_500; // the span is measured from the first start
  while (performance.now() - go < runMs) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = performance.now();
    if (now - lastReport >= 5_000) {
      const starts = children.reduce((sum, c) => sum + c.starts(), 0);
      note(
        `${label}: ${Math.round((now - go) / 1000)} s, ${formatNumber(starts)} starts, ` +
          `${formatNumber(((starts - lastStarts) * 1000) / (now - lastReport))}/s lately, load ${loadavg()[0]!.toFixed(1)}`,
      );
      lastReport = now;
      lastStarts = starts;
    }
  }
  const elapsed = (performance.now() - go) / 1000;
  const workerCores = cpuUsedBetween(workerCpu, cpuSnapshot(pids)) / elapsed;
  // Connections opened during the run (a pool grows) count too, from 0.
  const serverPidsNow = [...new Set([...serverPids, ...(target ? await storePids(target) : serverPids)])];
  const storeCores =
    serverPidsNow.length === 0 ? null : cpuUsedBetween(serverCpu, cpuSnapshot(serverPidsNow)) / elapsed;
  const loadEnd = loadavg()[0]!;
  for (const c of children) c.child.send("stop");
  const all = await Promise.all(children.map((c) => c.result));
  const startedAt = all.flatMap((r) => r.startedAt);
  const handlerAt = all.flatMap((r) => r.handlerAt);
  const from = Math.min(...startedAt);
  const span = { from, windows: options.seconds, windowMs: PER_MS, rate: options.rate };
  const windows = startsPerWindow(startedAt, span);
  const handlers = startsPerWindow(handlerAt, { ...span, from: Math.min(...handlerAt) });
  note(`${label}: ${formatNumber(windows.starts)} starts in the span`);
  return {
    system: label,
    loadAverage: [loadStart, loadEnd],
    windows,
    handlerSlidingMax: handlers.slidingMax,
    workerCores,
    storeCores,
  };
}

async function redisServerPid(redisUrl: string): Promise<number[]> {
  const [host, port] = new URL(redisUrl).host.split(":");
  return storePids({ kind: "redis", url: `redis://${host}:${port ?? "6379"}`, prefix: "" });
}

await main(program.parse().opts<Options>());
