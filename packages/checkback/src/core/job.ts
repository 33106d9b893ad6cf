import type { BackoffPolicy } from "./backoff.js";
import { describeValue } from "./describe.js";

/**
 * A job moves   scheduled → active → completed
 *                    ↑          │
 *                    └─ retry ──┤→ dead      (attempts used up; redrive sends it back)
 *   scheduled | active → cancelled           (by request; a cancelled job never runs again)
 */
export type JobState = "scheduled" | "active" | "completed" | "dead" | "cancelled";

export const JOB_STATES: readonly JobState[] = ["scheduled", "active", "completed", "dead", "cancelled"];

/** "Unfinished" jobs hold their key: at most one unfinished job per (queue, key). */
export function isUnfinished(state: JobState): boolean {
  return state === "scheduled" || state === "active";
}

export interface JobError {
  /** Which attempt failed (1-based). */
  attempt: number;
  /** Store-clock instant of the failure, epoch ms. */
  at: number;
  message: string;
}

/**
 * A job as a store keeps it. The payload stays JSON text here: stores never parse it, the
 * queue layer serializes it once (and checks its size) before any store sees it.
 */
export interface JobRecord {
  id: string;
  queue: string;
  key: string | null;
  payload: string;
  state: JobState;
  /** The instant the job is (or was last) due, epoch ms on the store's clock. */
  runAt: number;
  /** Attempts started so far, including one in progress. */
  attempts: number;
  maxAttempts: number;
  backoff: BackoffPolicy;
  /** Order among due jobs, −10..10, higher first (flow/priority.ts). */
  priority: number;
  /** The job's group (flow/groups.ts), null when it has none. */
  group: string | null;
  /** One entry per failed attempt, oldest first. */
  errors: JobError[];
  /** JSON text of the handler's return value, once completed. */
  result: string | null;
  createdAt: number;
  updatedAt: number;
  /** Set while active: the holder's lease token and when its lease runs out. */
  leaseToken: string | null;
  leaseExpiresAt: number | null;
}

/** A job is named by its id, or by its business key among the queue's unfinished jobs. */
export type JobRef = { id: string } | { key: string };

export function describeRef(ref: JobRef): string {
  return "id" in ref ? `id ${ref.id}` : `key ${describeValue(ref.key)}`;
}
