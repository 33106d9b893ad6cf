/**
 * Peak resident set size of this process. RSS is what the operating system charges the
 * process (heap, native SQLite pages, buffers), so it is the honest memory figure; the peak is
 * sampled on a timer because RSS between samples is never observed otherwise.
 */
export class RssSampler {
  private peakBytes = process.memoryUsage.rss();
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 50) {
    this.timer = setInterval(() => this.sample(), intervalMs).unref();
  }

  /** Current RSS, also counted toward the peak. */
  sample(): number {
    const rss = process.memoryUsage.rss();
    if (rss > this.peakBytes) this.peakBytes = rss;
    return rss;
  }

  get peak(): number {
    this.sample();
    return this.peakBytes;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

export const MB = 1024 * 1024;
