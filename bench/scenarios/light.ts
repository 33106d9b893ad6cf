import { LatenessRecorder } from "../lib/lateness.js";
import { produceSteadily } from "../lib/load.js";
import { MB, RssSampler } from "../lib/rss.js";
import { Tally } from "../lib/tally.js";
import type { BenchQueue, BenchSystem } from "../runners/system.js";
import type { Metrics, ScenarioSettings } from "./settings.js";

/**
 * Light load: a producer adds `rate` jobs a second, one `add` each, every job due at a random
 * point in the next `maxDelayMs`; a worker fires them. What matters here is precision: how
 * late each handler starts after its due instant when the engine is far from saturated.
 */
export async function runLight(system: BenchSystem, settings: ScenarioSettings, runId: string): Promise<Metrics> {
  const rss = new RssSampler();
  const queue = await system.openQueue(`light-${runId}`);
  const metrics = await fireAtLightLoad(queue, settings);
  await queue.close();
  rss.stop();
  return { ...metrics, rssPeakMB: rss.peak / MB };
}

/** The light-load run on a given queue; the pending scenario reuses it beside its backlog. */
export async function fireAtLightLoad(queue: BenchQueue, settings: ScenarioSettings): Promise<Metrics> {
  const lateness = new LatenessRecorder();
  const tally = new Tally();
  await queue.startWorker({
    concurrency: settings.concurrency,
    onStart: (ms) => lateness.record(ms),
    onDone: () => tally.hit(),
  });
  const { added, elapsedMs } = await produceSteadily(
    { rate: settings.rate, seconds: settings.lightSeconds, maxDelayMs: settings.maxDelayMs },
    (delayMs) => queue.add(delayMs),
  );
  await tally.waitFor(added);
  const summary = lateness.summary();
  return {
    lightJobs: added,
    producedRate: added / (elapsedMs / 1000),
    latenessP50: summary.p50,
    latenessP95: summary.p95,
    latenessP99: summary.p99,
    latenessMax: summary.max,
    earlyStarts: summary.early,
  };
}
