/**
 * A small in-memory ring of per-queue samples for the dashboard's charts: one bucket every
 * 10 s for the last hour, per queue, holding what this server saw — jobs handed out (claimed or
 * pushed), completed, retried and gone dead, and the firing lateness of each hand-out. It lives
 * in the server's memory only: a restart starts the charts afresh, and each server of a cluster
 * charts what went through it (the counts by state come from the store and are always whole).
 */
export const SAMPLE_INTERVAL_MS = 10_000;
export const SAMPLE_WINDOW_MS = 60 * 60_000;
const SLOTS = SAMPLE_WINDOW_MS / SAMPLE_INTERVAL_MS;
/** Lateness values kept per bucket (a uniform reservoir beyond that): enough for a p99 per minute. */
const LATENESS_KEPT = 256;

interface Bucket {
  start: number;
  handedOut: number;
  completed: number;
  retried: number;
  dead: number;
  /** Milliseconds; a uniform sample of the bucket's hand-outs once there are more than LATENESS_KEPT. */
  lateness: number[];
}

export interface QueueSeries {
  /** Start of each bucket, epoch ms, oldest first; the last is the bucket in progress. */
  at: number[];
  handedOut: number[];
  completed: number[];
  failed: number[];
  /** Null where nothing was handed out. */
  latenessP50: (number | null)[];
  latenessP99: (number | null)[];
}

export interface RecentActivity {
  handedOut: number;
  dead: number;
  latenessP99: number | null;
  /** Last hand-out seen in the window, epoch ms. */
  lastHandOutAt: number | null;
}

export class SampleRing {
  private readonly queues = new Map<string, (Bucket | undefined)[]>();

  constructor(private readonly now: () => number = Date.now) {}

  handedOut(queue: string, latenessMs: number): void {
    const bucket = this.bucket(queue);
    bucket.handedOut += 1;
    const late = Math.max(0, latenessMs);
    if (bucket.lateness.length < LATENESS_KEPT) bucket.lateness.push(late);
    else {
      const slot = Math.floor(Math.random() * bucket.handedOut);
      if (slot < LATENESS_KEPT) bucket.lateness[slot] = late;
    }
  }

  completed(queue: string): void {
    this.bucket(queue).completed += 1;
  }

  retried(queue: string): void {
    this.bucket(queue).retried += 1;
  }

  dead(queue: string): void {
    this.bucket(queue).dead += 1;
  }

  /** Every bucket of the window for one queue, zeros where nothing happened. */
  series(queue: string): QueueSeries {
    const series: QueueSeries = { at: [], handedOut: [], completed: [], failed: [], latenessP50: [], latenessP99: [] };
    const current = this.startOf(this.now());
    for (let start = current - (SLOTS - 1) * SAMPLE_INTERVAL_MS; start <= current; start += SAMPLE_INTERVAL_MS) {
      const bucket = this.find(queue, start);
      const sorted = bucket ? [...bucket.lateness].sort((a, b) => a - b) : [];
      series.at.push(start);
      series.handedOut.push(bucket?.handedOut ?? 0);
      series.completed.push(bucket?.completed ?? 0);
      series.failed.push((bucket?.retried ?? 0) + (bucket?.dead ?? 0));
      series.latenessP50.push(quantile(sorted, 0.5));
      series.latenessP99.push(quantile(sorted, 0.99));
    }
    return series;
  }

  /** What happened in a queue over the last `spanMs` (for alerts). */
  recent(queue: string, spanMs: number): RecentActivity {
    const now = this.now();
    const activity: RecentActivity = { handedOut: 0, dead: 0, latenessP99: null, lastHandOutAt: null };
    const lateness: number[] = [];
    for (const bucket of this.queues.get(queue) ?? []) {
      if (!bucket || bucket.start <= now - SAMPLE_WINDOW_MS) continue;
      if (bucket.handedOut > 0) {
        const end = Math.min(now, bucket.start + SAMPLE_INTERVAL_MS);
        activity.lastHandOutAt = Math.max(activity.lastHandOutAt ?? 0, end);
      }
      if (bucket.start + SAMPLE_INTERVAL_MS <= now - spanMs) continue;
      activity.handedOut += bucket.handedOut;
      activity.dead += bucket.dead;
      lateness.push(...bucket.lateness);
    }
    activity.latenessP99 = quantile(
      lateness.sort((a, b) => a - b),
      0.99,
    );
    return activity;
  }

  private bucket(queue: string): Bucket {
    let slots = this.queues.get(queue);
    if (!slots) {
      slots = new Array(SLOTS);
      this.queues.set(queue, slots);
    }
    const start = this.startOf(this.now());
    const index = (start / SAMPLE_INTERVAL_MS) % SLOTS;
    let bucket = slots[index];
    // A slot still holding a bucket from an hour ago is reused for the current one.
    if (bucket?.start !== start) {
      bucket = { start, handedOut: 0, completed: 0, retried: 0, dead: 0, lateness: [] };
      slots[index] = bucket;
    }
    return bucket;
  }

  private find(queue: string, start: number): Bucket | undefined {
    const bucket = this.queues.get(queue)?.[(start / SAMPLE_INTERVAL_MS) % SLOTS];
    return bucket?.start === start ? bucket : undefined;
  }

  private startOf(time: number): number {
    return time - (time % SAMPLE_INTERVAL_MS);
  }
}

function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}
