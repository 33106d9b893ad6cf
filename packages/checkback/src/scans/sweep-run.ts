import type { JobRecord } from "../core/job.js";
import { parsePayload } from "../core/payload.js";
import { MAX_NAME_LENGTH, validateName } from "../core/text.js";
import type { SweepRun, SweepRunState } from "./sweep-types.js";

/**
 * A sweep lives in two internal queues:
 *
 *   sweep.<name>        its runs: one job per run, keyed by the sweep's name, so the store's key
 *                       uniqueness allows one unfinished run at a time across every process.
 *                       The job's payload is the run's checkpoint (cursor and counts): the runner
 *                       reads one page per claim and releases the job, due at once, with the
 *                       new checkpoint; the last page completes it with the final counts.
 *   sweep-items.<name>  items whose handler threw in the run, retried with back-off and
 *                       dead-lettered like any job.
 */
export const SWEEP_QUEUE_PREFIX = "sweep.";
export const SWEEP_ITEMS_QUEUE_PREFIX = "sweep-items.";
export const MAX_SWEEP_NAME_LENGTH = MAX_NAME_LENGTH - SWEEP_ITEMS_QUEUE_PREFIX.length;

export function validateSweepName(name: unknown): string {
  return validateName(name, "sweep name", MAX_SWEEP_NAME_LENGTH);
}

export function sweepQueueName(name: string): string {
  return SWEEP_QUEUE_PREFIX + name;
}

export function sweepItemsQueueName(name: string): string {
  return SWEEP_ITEMS_QUEUE_PREFIX + name;
}

/** A run's checkpoint: the run job's payload, rewritten after each page. */
export interface RunCheckpoint {
  cursor: string | null;
  pages: number;
  items: number;
  failed: number;
  total: number | null;
  /** Items counted before this run started (a resumed run carries its predecessor's counts). */
  base: number;
  resumedFrom: string | null;
}

/** A completed run's result: its last checkpoint and when it ended. */
export interface RunResult extends RunCheckpoint {
  finishedAt: number;
}

/** What an item retry job carries: the item, and the run that handed it over. */
export interface ItemPayload<T> {
  item: T;
  runId: string;
}

export function freshCheckpoint(total: number | null): RunCheckpoint {
  return { cursor: null, pages: 0, items: 0, failed: 0, total, base: 0, resumedFrom: null };
}

const STATE_OF_JOB: Record<JobRecord["state"], SweepRunState> = {
  scheduled: "running",
  active: "running",
  completed: "completed",
  dead: "failed",
  cancelled: "cancelled",
};

/** A run as users see it, from its job; `now` (store clock) sets the rate and ETA of a running one. */
export function runOf(sweep: string, job: JobRecord, now: number, checkpoint?: RunCheckpoint): SweepRun {
  const state = STATE_OF_JOB[job.state];
  const point =
    checkpoint ??
    (job.state === "completed" && job.result !== null
      ? parsePayload<RunResult>(job.result)
      : parsePayload<RunCheckpoint>(job.payload));
  const finishedAt = state === "running" ? null : ((point as Partial<RunResult>).finishedAt ?? job.updatedAt);
  const startedAt = job.createdAt;
  const elapsedMs = Math.max(1, (finishedAt ?? now) - startedAt);
  const rate = ((point.items - point.base) * 1000) / elapsedMs;
  const etaMs =
    state === "running" && point.total !== null && rate > 0
      ? Math.max(0, Math.round(((point.total - point.items) / rate) * 1000))
      : null;
  return {
    id: job.id,
    sweep,
    state,
    startedAt,
    finishedAt,
    durationMs: elapsedMs,
    cursor: point.cursor,
    pages: point.pages,
    items: point.items,
    failed: point.failed,
    total: point.total,
    rate: Math.round(rate * 100) / 100,
    etaMs,
    error: job.errors.at(-1)?.message ?? null,
    resumedFrom: point.resumedFrom,
  };
}
