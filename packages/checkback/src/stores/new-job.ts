import type { JobRecord } from "../core/job.js";
import type { NewJob, When } from "./store.js";

/** The instant a due time names: a delay counts from the store's clock reading `now`. */
export function resolveWhen(when: When, now: number): number {
  return "runAt" in when ? when.runAt : now + when.delayMs;
}

/**
 * The record of a job just created from `input`: built from what was written rather than read
 * back, since the insert is the whole record and a read per job matters for bulk adds.
 */
export function createdRecord(input: NewJob, id: string, runAt: number, now: number): JobRecord {
  return {
    id,
    queue: input.queue,
    key: input.key,
    payload: input.payload,
    state: "scheduled",
    runAt,
    attempts: 0,
    maxAttempts: input.maxAttempts,
    backoff: input.backoff,
    priority: input.priority ?? 0,
    group: input.group ?? null,
    errors: [],
    result: null,
    createdAt: now,
    updatedAt: now,
    leaseToken: null,
    leaseExpiresAt: null,
  };
}
