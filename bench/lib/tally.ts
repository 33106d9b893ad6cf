import { setTimeout as sleep } from "node:timers/promises";

/**
 * Counts completed jobs and lets a scenario wait for a total. A run that stops making
 * progress fails loudly after `stallMs` instead of hanging the benchmark.
 */
export class Tally {
  done = 0;
  /** performance.now() of the latest completion. */
  lastAt = 0;

  hit(): void {
    this.done += 1;
    this.lastAt = performance.now();
  }

  async waitFor(
    total: number,
    { stallMs = 30_000, onProgress }: { stallMs?: number; onProgress?: (done: number) => void } = {},
  ) {
    let seen = this.done;
    let progressAt = performance.now();
    while (this.done < total) {
      await sleep(10);
      onProgress?.(this.done);
      if (this.done !== seen) {
        seen = this.done;
        progressAt = performance.now();
      } else if (performance.now() - progressAt > stallMs) {
        throw new Error(`stalled at ${this.done}/${total} completed jobs (no progress for ${stallMs} ms)`);
      }
    }
    onProgress?.(this.done);
  }
}
