import { LatenessRecorder, type LatenessSummary } from "./lateness.js";

/**
 * How late a plain Node timer fires in an otherwise idle process while a benchmark runs
 * beside it: the machine's own scheduling noise (other processes competing for the CPUs).
 * No engine in a process on the same machine can fire more punctually than this, so it is
 * printed next to the lateness figures to read them against.
 */
export class TimerNoise {
  private readonly lateness = new LatenessRecorder();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  start(): this {
    this.next();
    return this;
  }

  stop(): LatenessSummary {
    this.stopped = true;
    clearTimeout(this.timer);
    return this.lateness.summary();
  }

  private next(): void {
    if (this.stopped) return;
    const delayMs = 1 + Math.floor(Math.random() * 20);
    const dueAt = Date.now() + delayMs;
    this.timer = setTimeout(() => {
      this.lateness.record(Date.now() - dueAt);
      this.next();
    }, delayMs);
  }
}
