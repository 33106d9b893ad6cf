import { setTimeout as sleep } from "node:timers/promises";
import { progressBar } from "./progress.js";

/** A uniform random delay in [minMs, maxMs], whole milliseconds. */
export function randomDelay(maxMs: number, minMs = 0): number {
  return minMs + Math.floor(Math.random() * (maxMs - minMs + 1));
}

/**
 * Adds `count` jobs through `addBulk` in batches of `batch`, one batch at a time (a producer
 * that waits for each acknowledgement), and returns the elapsed milliseconds. Delays are made
 * a batch at a time so a million-job run does not hold a million-entry array.
 */
export async function addInBatches(
  label: string,
  { count, batch, delayMs }: { count: number; batch: number; delayMs: () => number },
  addBulk: (delays: number[]) => Promise<void>,
): Promise<number> {
  const bar = count >= 100_000 ? progressBar(label, count) : null;
  const started = performance.now();
  for (let done = 0; done < count; ) {
    const size = Math.min(batch, count - done);
    await addBulk(Array.from({ length: size }, delayMs));
    done += size;
    bar?.update(done);
  }
  bar?.stop();
  return performance.now() - started;
}

/**
 * A steady producer: `rate` single adds per second for `seconds`, each with its own random
 * delay. Adds are not awaited one by one, so a slow acknowledgement does not lower the rate;
 * the schedule is recomputed from the start time every tick, so timer jitter does not drift it.
 */
export async function produceSteadily(
  { rate, seconds, maxDelayMs }: { rate: number; seconds: number; maxDelayMs: number },
  add: (delayMs: number) => Promise<void>,
): Promise<{ added: number; elapsedMs: number }> {
  const total = Math.round(rate * seconds);
  const pending: Promise<void>[] = [];
  const started = performance.now();
  let added = 0;
  while (added < total) {
    const owed = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
    for (; added < owed; added++) pending.push(add(randomDelay(maxDelayMs)));
    await sleep(2);
  }
  await Promise.all(pending);
  return { added, elapsedMs: performance.now() - started };
}

/** Waits until the wall clock reaches `instantMs` (epoch ms). */
export async function waitUntil(instantMs: number): Promise<void> {
  const wait = instantMs - Date.now();
  if (wait > 0) await sleep(wait);
}
