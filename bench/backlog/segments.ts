import { note } from "../lib/progress.js";
import { MB } from "../lib/rss.js";

/** One stretch of a long add or drain: its rate and what the process and store held at its end. */
export interface Segment {
  /** Jobs added (or drained) when the segment ended. */
  count: number;
  /** Jobs per second within the segment alone. */
  rate: number;
  rssMB: number;
  /** SQLite file + WAL, or Redis used_memory growth, at the segment's end. */
  storeMB: number | null;
  elapsedSeconds: number;
}

/**
 * Cuts a long run into segments of `every` jobs, measuring each on its own so a rate that
 * falls with size shows (an average over the whole run would hide it), and prints one line per
 * segment: plain lines rather than a bar, so the log of a long run keeps the history.
 */
export class SegmentRecorder {
  readonly segments: Segment[] = [];
  private readonly started = performance.now();
  private segmentStart = performance.now();
  private lastCount = 0;

  constructor(
    private readonly label: string,
    private readonly every: number,
    private readonly storeBytes: () => Promise<number | null>,
  ) {}

  /** Whether `count` has reached the end of the current segment. */
  due(count: number): boolean {
    return count - this.lastCount >= this.every;
  }

  async close(count: number): Promise<Segment> {
    const now = performance.now();
    // Moved on before the first await, so `due` is false again for the callers meanwhile.
    const from = { count: this.lastCount, at: this.segmentStart };
    this.lastCount = count;
    this.segmentStart = now;
    const bytes = await this.storeBytes();
    const segment: Segment = {
      count,
      rate: (count - from.count) / ((now - from.at) / 1000),
      rssMB: process.memoryUsage.rss() / MB,
      storeMB: bytes === null ? null : bytes / MB,
      elapsedSeconds: (now - this.started) / 1000,
    };
    this.segments.push(segment);
    note(
      `${this.label}: ${count.toLocaleString("en")} · ${Math.round(segment.rate).toLocaleString("en")}/s in this segment · ` +
        `RSS ${segment.rssMB.toFixed(0)} MB` +
        (segment.storeMB === null ? "" : ` · store ${segment.storeMB.toFixed(0)} MB`) +
        ` · ${segment.elapsedSeconds.toFixed(0)} s`,
    );
    return segment;
  }
}
