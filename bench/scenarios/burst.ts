import { setTimeout as sleep } from "node:timers/promises";
import { LatenessRecorder } from "../lib/lateness.js";
import { addInBatches, randomDelay } from "../lib/load.js";
import { progressBar } from "../lib/progress.js";
import { MB, RssSampler } from "../lib/rss.js";
import { Tally } from "../lib/tally.js";
import type { BenchSystem, Footprint } from "../runners/system.js";
import type { Metrics, ScenarioSettings } from "./settings.js";

/**
 * Burst: N jobs with random delays in [0, maxDelayMs], concurrency C, no-op handler. Two runs:
 *
 * - live: the worker runs while the jobs are added, so it fires them as they come due. This
 *   gives the enqueue rate under load and the firing lateness, but its throughput is capped by
 *   the arrival rate (N jobs spread over maxDelayMs: 10,000/s at the defaults).
 * - drain: the same N jobs are added with no worker running, and the worker starts once all
 *   are due. Time from worker start to the last completion is the engine's end-to-end
 *   capacity (claim, handler, complete), the figure the jobs/s target is about. On a machine
 *   shared with other work the wall-clock rate depends on the load, so the drain is also given
 *   per CPU-second: this process's CPU time plus, for Redis-backed systems, the Redis server's,
 *   and for PostgreSQL-backed ones, that of the backends serving this process's connections.
 */
export async function runBurst(system: BenchSystem, settings: ScenarioSettings, runId: string): Promise<Metrics> {
  const rss = new RssSampler();
  const { jobs } = settings;
  const lateness = new LatenessRecorder();
  const { enqueueLiveMs, liveWallMs } = await fireBurstLive(system, settings, runId, lateness);
  const drain = await measureDrain(system, settings, runId);

  rss.stop();
  const summary = lateness.summary();
  return {
    burstJobs: jobs,
    enqueueLiveRate: jobs / (enqueueLiveMs / 1000),
    liveRate: jobs / (liveWallMs / 1000),
    latenessP50: summary.p50,
    latenessP95: summary.p95,
    latenessP99: summary.p99,
    latenessMax: summary.max,
    earlyStarts: summary.early,
    ...drain,
    rssPeakMB: rss.peak / MB,
  };
}

/**
 * The drain half of the burst: N jobs added with no worker running, then a worker started once
 * all are due; end-to-end jobs/s from its start to the last completion, and jobs per CPU-second
 * (this process, plus the Redis server's for Redis-backed systems).
 */
export async function measureDrain(
  system: BenchSystem,
  { jobs, batch, concurrency, maxDelayMs }: ScenarioSettings,
  runId: string,
): Promise<{ enqueueIdleRate: number; drainRate: number; drainCpuRate: number }> {
  const delays = { count: jobs, batch, delayMs: () => randomDelay(maxDelayMs) };
  const drain = await system.openQueue(`burst-drain-${runId}`);
  const enqueueIdleMs = await addInBatches(`${system.label}: drain enqueue`, delays, (d) => drain.addBulk(d));
  await sleep(maxDelayMs + 50); // every job added is now due
  const drainTally = new Tally();
  const footprintBefore = await system.footprint();
  const cpuBefore = process.cpuUsage();
  const drainStart = performance.now();
  await drain.startWorker({ concurrency, onStart: () => {}, onDone: () => drainTally.hit() });
  await waitWithProgress(`${system.label}: drain`, drainTally, jobs);
  const drainMs = drainTally.lastAt - drainStart;
  const cpu = process.cpuUsage(cpuBefore);
  const footprintAfter = await system.footprint();
  const drainCpuSeconds = (cpu.user + cpu.system) / 1e6 + serverCpuSeconds(footprintBefore, footprintAfter);
  await drain.close();
  return {
    enqueueIdleRate: jobs / (enqueueIdleMs / 1000),
    drainRate: jobs / (drainMs / 1000),
    drainCpuRate: jobs / drainCpuSeconds,
  };
}

/** The live half of the burst: jobs added while the worker runs, each job's firing lateness into `lateness`. */
export async function fireBurstLive(
  system: BenchSystem,
  { jobs, batch, concurrency, maxDelayMs }: ScenarioSettings,
  runId: string,
  lateness: LatenessRecorder,
): Promise<{ enqueueLiveMs: number; liveWallMs: number }> {
  const delays = { count: jobs, batch, delayMs: () => randomDelay(maxDelayMs) };
  const live = await system.openQueue(`burst-live-${runId}`);
  const liveTally = new Tally();
  await live.startWorker({ concurrency, onStart: (ms) => lateness.record(ms), onDone: () => liveTally.hit() });
  const liveStart = performance.now();
  const enqueueLiveMs = await addInBatches(`${system.label}: burst enqueue`, delays, (d) => live.addBulk(d));
  await waitWithProgress(`${system.label}: burst fire`, liveTally, jobs);
  const liveWallMs = liveTally.lastAt - liveStart;
  await live.close();
  return { enqueueLiveMs, liveWallMs };
}

/** CPU the system's server spent between two footprints: the Redis server's, or the PostgreSQL backends'. */
function serverCpuSeconds(before: Footprint, after: Footprint): number {
  const spent = (key: "redisCpuSeconds" | "postgresCpuSeconds") => (after[key] ?? 0) - (before[key] ?? 0);
  return spent("redisCpuSeconds") + spent("postgresCpuSeconds");
}

async function waitWithProgress(label: string, tally: Tally, total: number): Promise<void> {
  const bar = total >= 100_000 ? progressBar(label, total) : null;
  await tally.waitFor(total, { onProgress: bar ? (done) => bar.update(done) : undefined });
  bar?.stop();
}
