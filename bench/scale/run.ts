import { type ChildProcess, fork } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { RedisServerProcess } from "../../test/support/redis-server-process.js";
import { note } from "../lib/progress.js";
import { formatNumber, markdownTable } from "../lib/table.js";
import { renderPng } from "../plot/plot.js";
import { cpuSnapshot, cpuUsedBetween } from "./cpu.js";
import { type ScalePoint, scalingFigure } from "./figure.js";
import { preciseNow, type WorkerMessage, type WorkerSpec } from "./protocol.js";
import { cleanupTarget, describeTarget, openTargetStore, postgresTarget, storePids, type Target } from "./targets.js";

/**
 * Drain throughput against the number of worker processes: for each target (one PostgreSQL,
 * one Redis of this run's own, the local Redis Cluster) and each worker count, `--jobs` jobs
 * due now are added, then that many worker processes drain them with a no-op handler. The
 * clock runs from "go" to the last completion; CPU per job is read from /proc/<pid>/stat for
 * the worker processes and for the store's server processes over the same interval.
 *
 *   npx tsx bench/scale/run.ts [--targets postgres,redis,cluster] [--workers 1,2,4,8] [--jobs 50000]
 *     [--plot docs/benchmarks/scaling.png] [--out scaling.json]
 */
const list = (value: string) => value.split(",").filter(Boolean);
const program = new Command("bench-scale")
  .option("--targets <list>", "postgres, redis (a private redis-server), cluster", list, [
    "postgres",
    "redis",
    "cluster",
  ])
  .option("--workers <list>", "worker process counts", (v) => list(v).map(Number), [1, 2, 4, 8])
  .option("--jobs <n>", "jobs drained per point", Number, 50_000)
  .option("--concurrency <n>", "worker concurrency in each process", Number, 50)
  .option("--repeat <n>", "runs per point (the table shows each; the plot the best)", Number, 1)
  .option("--redis-port <port>", "port for the private redis-server", Number, 6450)
  .option("--cluster <nodes>", "Redis Cluster seed nodes", "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003")
  .option("--plot <png>", "write the throughput and CPU charts here")
  .option("--out <json>", "write the raw points here")
  .option("--from <json>", "no runs: table and plot from an earlier --out");
program.parse();
const options = program.opts<{
  targets: string[];
  workers: number[];
  jobs: number;
  concurrency: number;
  repeat: number;
  redisPort: number;
  cluster: string;
  plot?: string;
  out?: string;
  from?: string;
}>();

const runId = `${process.pid}_${Date.now().toString(36)}`;
const workerPath = fileURLToPath(new URL("./worker.ts", import.meta.url));
const BATCH = 1_000;
const DRAIN_DEADLINE_MS = 180_000;

async function fill(target: Target, queue: string, jobs: number): Promise<number> {
  const opened = openTargetStore(target);
  const checkback = new Checkback({ store: opened.store });
  try {
    const q = checkback.queue<{ n: number }>(queue);
    const started = performance.now();
    for (let done = 0; done < jobs; done += BATCH) {
      await q.addBulk(Array.from({ length: Math.min(BATCH, jobs - done) }, (_, i) => ({ payload: { n: done + i } })));
    }
    return jobs / ((performance.now() - started) / 1000);
  } finally {
    await checkback.close();
    await opened.close();
  }
}

function startWorker(spec: WorkerSpec): {
  child: ChildProcess;
  ready: Promise<void>;
  done: () => number;
  lastAt: () => number;
} {
  const child = fork(workerPath, [JSON.stringify(spec)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  let done = 0;
  let lastAt = 0;
  const ready = new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`worker ${child.pid} exited with ${code} before ready`)));
    child.on("message", (message: WorkerMessage) => {
      if (message.type === "ready") resolve();
      else {
        done = message.done;
        lastAt = message.lastAt;
      }
    });
  });
  return { child, ready, done: () => done, lastAt: () => lastAt };
}

async function drainPoint(target: Target, workers: number, repeat: number): Promise<ScalePoint> {
  const queue = `drain_${workers}_${repeat}`;
  const loadAverage = loadavg()[0]!;
  const addRate = await fill(target, queue, options.jobs);
  const procs = Array.from({ length: workers }, () => startWorker({ target, queue, concurrency: options.concurrency }));
  await Promise.all(procs.map((p) => p.ready));
  const workerPids = procs.map((p) => p.child.pid!);
  const workerBefore = cpuSnapshot(workerPids);
  const storeBefore = cpuSnapshot(await storePids(target));
  const started = preciseNow();
  for (const p of procs) p.child.send("go");
  const total = () => procs.reduce((sum, p) => sum + p.done(), 0);
  while (total() < options.jobs) {
    if (preciseNow() - started > DRAIN_DEADLINE_MS) throw new Error(`drain stuck at ${total()} of ${options.jobs}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const workerCpu = cpuUsedBetween(workerBefore, cpuSnapshot(workerPids));
  const storeCpu = cpuUsedBetween(storeBefore, cpuSnapshot(await storePids(target)));
  const seconds = (Math.max(...procs.map((p) => p.lastAt())) - started) / 1000;
  await Promise.all(
    procs.map(
      (p) =>
        new Promise((resolve) => {
          p.child.once("exit", resolve);
          p.child.send("stop");
        }),
    ),
  );
  const point: ScalePoint = {
    target: describeTarget(target),
    workers,
    jobs: options.jobs,
    seconds,
    jobsPerSecond: options.jobs / seconds,
    addPerSecond: addRate,
    workerCpuUsPerJob: (workerCpu / options.jobs) * 1e6,
    storeCpuUsPerJob: (storeCpu / options.jobs) * 1e6,
    loadAverage,
  };
  note(
    `${point.target}, ${workers} worker process(es): ${formatNumber(point.jobsPerSecond)} jobs/s, ` +
      `CPU/job ${formatNumber(point.workerCpuUsPerJob)} µs workers + ${formatNumber(point.storeCpuUsPerJob)} µs store (load ${loadAverage.toFixed(1)})`,
  );
  return point;
}

async function withTarget<T>(name: string, body: (target: Target) => Promise<T>): Promise<T> {
  if (name === "postgres") {
    const target = postgresTarget(runId);
    try {
      return await body(target);
    } finally {
      await cleanupTarget(target);
    }
  }
  if (name === "redis") {
    const server = new RedisServerProcess(options.redisPort, ["--appendonly", "no"]);
    await server.start();
    try {
      return await body({ kind: "redis", url: server.url, prefix: `checkback-scale-${runId}` });
    } finally {
      await server.stop();
    }
  }
  if (name === "cluster") {
    const nodes = options.cluster.split(",").map((hostPort) => {
      const [host, port] = hostPort.split(":");
      return { host: host!, port: Number(port) };
    });
    const target: Target = { kind: "cluster", nodes, prefix: `checkback-scale-${runId}` };
    try {
      return await body(target);
    } finally {
      await cleanupTarget(target);
    }
  }
  throw new Error(`unknown target ${name}`);
}

const points: ScalePoint[] = options.from ? JSON.parse(await readFile(options.from, "utf8")) : [];
for (const name of options.from ? [] : options.targets) {
  await withTarget(name, async (target) => {
    for (const workers of options.workers) {
      for (let r = 0; r < options.repeat; r++) points.push(await drainPoint(target, workers, r));
    }
  });
}

process.stdout.write(
  `${markdownTable(
    [
      "store",
      "worker processes",
      "jobs",
      "drain jobs/s",
      "CPU µs/job, workers",
      "CPU µs/job, store",
      "CPU µs/job, total",
      "load avg",
    ],
    points.map((p) => [
      p.target,
      String(p.workers),
      formatNumber(p.jobs),
      formatNumber(p.jobsPerSecond),
      formatNumber(p.workerCpuUsPerJob),
      formatNumber(p.storeCpuUsPerJob),
      formatNumber(p.workerCpuUsPerJob + p.storeCpuUsPerJob),
      p.loadAverage.toFixed(1),
    ]),
  )}\n`,
);
if (options.out) await writeFile(options.out, `${JSON.stringify(points, null, 2)}\n`);
if (options.plot) {
  await renderPng(scalingFigure(points, options.concurrency), options.plot);
  note(`wrote ${options.plot}`);
}
