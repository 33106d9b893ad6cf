import type { BackoffOption } from "../core/backoff.js";
import type { Duration } from "../core/duration.js";

/** One page of the user's records: the items, and the cursor of the next page (null: the last). */
export interface SweepPage<T> {
  items: T[];
  next: string | null;
}

export interface SweepPageContext {
  sweep: string;
  /** The run's id (the run job's id). */
  runId: string;
  /** Aborted when this process loses the run (cancelled, or its lease lost) or shuts down. */
  signal: AbortSignal;
}

export interface SweepItemContext extends SweepPageContext {
  /** 1 for the try inside the run; 2, 3… for the retries from the sweep's item queue. */
  attempt: number;
}

export interface SweepDefinition<T> {
  /** Reads one page from the user's own records, starting at `cursor` (null: the beginning). */
  page: (cursor: string | null, context: SweepPageContext) => SweepPage<T> | Promise<SweepPage<T>>;
  /** Handles one item. A throw hands the item to the sweep's item queue, retried with back-off. */
  handle: (item: T, context: SweepItemContext) => unknown;
  /** Items of a page handled at once, and item retries at once (default 10). */
  concurrency?: number;
  /** Retries of an item that failed in the run, in the item queue, before it goes dead (default 3). */
  attempts?: number;
  /** Back-off between an item's retries (default: 1 s doubling, up to an hour). */
  backoff?: BackoffOption;
  /** Tries of failing pages (and runners lost mid-page) in one run before the run fails (default 10). */
  pageAttempts?: number;
  /** Back-off before a failed page is read again (default: 1 s doubling, up to an hour). */
  pageBackoff?: BackoffOption;
  /** Lease on the run (default "30s"): how long a crashed runner's run waits before another resumes it. */
  lease?: Duration;
  /** How many items the whole sweep will see, for the ETA: a number, or a function read at each start. */
  total?: number | (() => number | Promise<number>);
  /** Run the sweep's runners in this process (default true); false only starts, cancels and reads. */
  worker?: boolean;
  /** Finished runs kept as history (default 100). */
  keepRuns?: number;
}

export type SweepRunState = "running" | "completed" | "failed" | "cancelled";

/** One run of a sweep, with its progress as of its last checkpoint. */
export interface SweepRun {
  id: string;
  sweep: string;
  state: SweepRunState;
  startedAt: number;
  /** Set once the run finished (completed, failed or cancelled). */
  finishedAt: number | null;
  /** From start to the end, or to now while running. */
  durationMs: number;
  /** Where the next page starts (the last checkpoint); null before the first page and after the last. */
  cursor: string | null;
  pages: number;
  /** Items handled in the run (succeeded + failed), counted at each checkpoint. */
  items: number;
  /** Items whose handler threw in the run: handed to the item queue to be retried. */
  failed: number;
  total: number | null;
  /** Items per second since this run started. */
  rate: number;
  /** Estimated ms to the end, when a total is known and the run is going. */
  etaMs: number | null;
  /** The last page error (a failed run's reason); null if none. */
  error: string | null;
  /** The failed run whose cursor this run resumed from, if any. */
  resumedFrom: string | null;
}

export interface SweepStatus {
  name: string;
  /** idle: never run (or its history trimmed). Otherwise the state of the newest run. */
  state: "idle" | SweepRunState;
  run: SweepRun | null;
  /** Items waiting for a retry, and items that used up their retries (dead letters of the item queue). */
  retrying: number;
  dead: number;
}

export interface SweepEvents {
  /** A page was checkpointed (in the process that ran it). */
  progress: [run: SweepRun];
  completed: [run: SweepRun];
  /** A page failed (it will be read again after back-off unless the run used up its attempts). */
  pageFailed: [error: Error, run: SweepRun];
  /** The run used up its page attempts and failed; a later start resumes from its cursor. */
  failed: [run: SweepRun];
}
