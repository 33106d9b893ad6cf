/**
 * A quick micro-run of the SQLite store, apart from the full benchmark (bench/run.ts):
 *   npx tsx bench/sqlite-micro.ts [jobs=100000] [pending=1000000]
 *
 * 1. store level: add `jobs` in batches of 1000, then claim 50 at a time and complete each;
 * 2. end to end: the same number of jobs through a Worker (concurrency 50, no-op handler);
 * 3. a deep queue: `pending` jobs due in an hour, then near-due jobs claimed past them.
 * Each part uses a fresh file in a temporary directory.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Checkback } from "../packages/checkback/src/checkback.js";
import { DEFAULT_BACKOFF } from "../packages/checkback/src/core/backoff.js";
import { SqliteStore } from "../packages/checkback/src/stores/sqlite/sqlite-store.js";
import type { NewJob } from "../packages/checkback/src/stores/store.js";

const jobs = Number(process.argv[2] ?? 100_000);
const pending = Number(process.argv[3] ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), "checkback-sqlite-micro-"));
let files = 0;
const freshPath = () => join(dir, `micro-${++files}.db`);
const rate = (n: number, ms: number) => `${Math.round((n / ms) * 1000).toLocaleString("en")}/s`;
/** CPU time this process spent since `from`: on a shared machine it says more than the wall clock. */
const cpuMs = (from: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1000;
};
const newJob = (n: number, delayMs = 0): NewJob => ({
  queue: "micro",
  key: null,
  payload: JSON.stringify({ n }),
  when: { delayMs },
  maxAttempts: 3,
  backoff: DEFAULT_BACKOFF,
  onDuplicate: "keep",
});

async function addAll(store: SqliteStore, count: number, delayMs = 0): Promise<number> {
  const started = performance.now();
  for (let done = 0; done < count; done += 1000) {
    await store.add(Array.from({ length: Math.min(1000, count - done) }, (_, i) => newJob(done + i, delayMs)));
  }
  return performance.now() - started;
}

async function storeLevel(): Promise<void> {
  const store = new SqliteStore({ path: freshPath() });
  const addMs = await addAll(store, jobs);
  const started = performance.now();
  const cpu = process.cpuUsage();
  let completed = 0;
  for (;;) {
    const claim = await store.claimDue("micro", { limit: 50, leaseMs: 30_000 });
    if (claim.jobs.length === 0) break;
    await Promise.all(claim.jobs.map((job) => store.complete("micro", job.id, job.leaseToken!, { result: null })));
    completed += claim.jobs.length;
    if (completed % 10_000 < 50) await store.trim("micro", { keepLast: 1000 });
  }
  const runMs = performance.now() - started;
  console.log(
    `store: add ${jobs} in batches of 1000: ${rate(jobs, addMs)}; claim(50)+complete: ${rate(completed, runMs)} wall, ` +
      `${rate(completed, cpuMs(cpu))} per CPU-second`,
  );
  await store.close();
}

async function endToEnd(): Promise<void> {
  const store = new SqliteStore({ path: freshPath() });
  await addAll(store, jobs);
  const cb = new Checkback({ store });
  const started = performance.now();
  const cpu = process.cpuUsage();
  await new Promise<void>((resolve) => {
    let completed = 0;
    const worker = cb.worker("micro", () => undefined, { concurrency: 50 });
    worker.on("completed", () => {
      if (++completed === jobs) resolve();
    });
  });
  const runMs = performance.now() - started;
  console.log(
    `worker: ${jobs} jobs, concurrency 50, no-op handler: ${rate(jobs, runMs)} wall, ${rate(jobs, cpuMs(cpu))} per CPU-second`,
  );
  await cb.close();
}

async function deepQueue(): Promise<void> {
  const store = new SqliteStore({ path: freshPath() });
  const addMs = await addAll(store, pending, 3_600_000);
  await addAll(store, 10_000);
  const cpu = process.cpuUsage();
  const latencies: number[] = [];
  let claimed = 0;
  const started = performance.now();
  for (;;) {
    const t = performance.now();
    const claim = await store.claimDue("micro", { limit: 50, leaseMs: 30_000 });
    latencies.push(performance.now() - t);
    if (claim.jobs.length === 0) break;
    await Promise.all(claim.jobs.map((job) => store.complete("micro", job.id, job.leaseToken!, { result: null })));
    claimed += claim.jobs.length;
  }
  const runMs = performance.now() - started;
  latencies.sort((a, b) => a - b);
  const p = (q: number) => latencies[Math.floor(q * (latencies.length - 1))]!.toFixed(3);
  const countStarted = performance.now();
  const counts = await store.counts("micro");
  const countMs = performance.now() - countStarted;
  console.log(
    `deep: ${pending} pending added at ${rate(pending, addMs)}; ${claimed} near-due claimed+completed past them at ${rate(claimed, runMs)} wall, ${rate(claimed, cpuMs(cpu))} per CPU-second; ` +
      `claimDue(50) p50 ${p(0.5)} ms, p99 ${p(0.99)} ms; counts() ${countMs.toFixed(0)} ms (${counts.scheduled} scheduled)`,
  );
  await store.close();
}

try {
  if (jobs > 0) {
    await storeLevel();
    await endToEnd();
  }
  if (pending > 0) await deepQueue();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
