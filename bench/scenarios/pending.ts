import { addInBatches, randomDelay } from "../lib/load.js";
import { note } from "../lib/progress.js";
import { MB, RssSampler } from "../lib/rss.js";
import type { BenchSystem, Footprint } from "../runners/system.js";
import { fireAtLightLoad } from "./light.js";
import type { Metrics, ScenarioSettings } from "./settings.js";

const DAY_MS = 86_400_000;

/**
 * A large backlog far in the future, while near-due jobs keep firing in the same queue: the
 * light-load run again, on top of `pendingCount` jobs due 30+ days out. A delay engine must
 * hold such a backlog cheaply (process RSS, plus the database file or the Redis memory it
 * occupies) and its due index must keep the near-due jobs exactly as punctual as without it.
 */
export async function runPending(
  system: BenchSystem,
  settings: ScenarioSettings,
  runId: string,
  pendingCount: number,
): Promise<Metrics> {
  const rss = new RssSampler();
  const queue = await system.openQueue(`pending-${runId}`);
  settle();
  const rssBefore = rss.sample();
  const before = await system.footprint();

  const far = {
    count: pendingCount,
    batch: settings.batch,
    delayMs: () => randomDelay(settings.farDelayMs + DAY_MS, settings.farDelayMs),
  };
  const insertMs = await addInBatches(`${system.label}: add ${pendingCount} pending`, far, (d) => queue.addBulk(d));
  settle();
  const rssAfterInsert = rss.sample();
  const after = await system.footprint();

  note(`${system.label}: firing near-due jobs beside the backlog`);
  const light = await fireAtLightLoad(queue, settings);

  const closing = performance.now();
  await queue.close();
  const cleanupMs = performance.now() - closing;
  rss.stop();

  const held = heldBytes(before, after, rssAfterInsert - rssBefore);
  return {
    pendingJobs: pendingCount,
    pendingInsertRate: pendingCount / (insertMs / 1000),
    rssAfterInsertMB: rssAfterInsert / MB,
    dbFileMB: after.dbFileBytes === undefined ? null : after.dbFileBytes / MB,
    redisMemoryMB: held.redis === null ? null : held.redis / MB,
    bytesPerPendingJob: held.perJob / pendingCount,
    ...light,
    rssPeakMB: rss.peak / MB,
    cleanupSeconds: cleanupMs / 1000,
  };
}

/**
 * Where a system keeps its backlog: a database file, Redis memory, or (memory store) this
 * process's own heap, seen as RSS growth.
 */
function heldBytes(before: Footprint, after: Footprint, rssGrowth: number): { redis: number | null; perJob: number } {
  const redis =
    after.redisUsedMemoryBytes === undefined || before.redisUsedMemoryBytes === undefined
      ? null
      : after.redisUsedMemoryBytes - before.redisUsedMemoryBytes;
  if (redis !== null) return { redis, perJob: redis };
  if (after.dbFileBytes !== undefined) return { redis, perJob: after.dbFileBytes };
  return { redis, perJob: rssGrowth };
}

/** A full collection before reading RSS, when the runner exposed gc (--expose-gc), so garbage from building the batches is not counted as held. */
function settle(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
