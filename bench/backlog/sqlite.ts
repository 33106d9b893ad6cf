import { randomDelay } from "../lib/load.js";
import { note } from "../lib/progress.js";
import { MB, RssSampler } from "../lib/rss.js";
import { openCheckback } from "../runners/checkback.js";
import { fireAtLightLoad } from "../scenarios/light.js";
import type { Metrics, ScenarioSettings } from "../scenarios/settings.js";
import { type Segment, SegmentRecorder } from "./segments.js";

const DAY_MS = 86_400_000;

export interface SqliteBacklogResult {
  target: number;
  reached: number;
  stoppedByTime: boolean;
  segments: Segment[];
  dbBytesPerJob: number;
  rssPeakMB: number;
  baseline: Metrics;
  withBacklog: Metrics;
}

/**
 * Builds a backlog of far-future jobs (due 30–31 days out) in a fresh SQLite file, in addBulk
 * calls of `batch`, until `target` jobs or `maxSeconds` of adding, whichever comes first; then
 * the light-load run (near-due jobs at `settings.rate`/s) on the backlog's queue, compared with
 * the same run on an empty store first. The file is deleted at the end.
 */
export async function sqliteBacklog(
  settings: ScenarioSettings,
  { target, maxSeconds, every }: { target: number; maxSeconds: number; every: number },
): Promise<SqliteBacklogResult> {
  const rss = new RssSampler(200);
  const system = await openCheckback("sqlite", { redisUrl: "" });
  try {
    note(`sqlite: near-due jobs on an empty store (${settings.rate}/s for ${settings.lightSeconds} s)`);
    const empty = await system.openQueue("near-empty");
    const baseline = await fireAtLightLoad(empty, settings);
    await empty.close();

    const queue = await system.openQueue("backlog");
    const recorder = new SegmentRecorder(
      "sqlite backlog",
      every,
      async () => (await system.footprint()).dbFileBytes ?? null,
    );
    const deadline = performance.now() + maxSeconds * 1000;
    const far = () => randomDelay(settings.farDelayMs + DAY_MS, settings.farDelayMs);
    let added = 0;
    while (added < target && performance.now() < deadline) {
      const size = Math.min(settings.batch, target - added);
      await queue.addBulk(Array.from({ length: size }, far));
      added += size;
      if (recorder.due(added)) await recorder.close(added);
    }
    if (recorder.segments.at(-1)?.count !== added) await recorder.close(added);
    const dbBytes = (await system.footprint()).dbFileBytes ?? 0;

    note(`sqlite: near-due jobs beside ${added.toLocaleString("en")} pending`);
    const withBacklog = await fireAtLightLoad(queue, settings);
    await queue.close();
    return {
      target,
      reached: added,
      stoppedByTime: added < target,
      segments: recorder.segments,
      dbBytesPerJob: dbBytes / added,
      rssPeakMB: rss.peak / MB,
      baseline,
      withBacklog,
    };
  } finally {
    rss.stop();
    // Closes the store and deletes its temporary directory (the file, WAL and shm).
    await system.close();
  }
}
