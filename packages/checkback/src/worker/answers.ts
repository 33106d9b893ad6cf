import { type Duration, parseDuration } from "../core/duration.js";
import type { NewJob } from "../stores/store.js";

/**
 * Returned by a handler to release its job: run it again after `delayMs` without spending an
 * attempt. With a `payload`, the job comes back carrying it (a check keeps its probe history
 * this way).
 */
export class Release {
  constructor(
    readonly delayMs: number,
    readonly payload?: unknown,
    /** Also pause the whole queue until the job is due again (slowDown). */
    readonly pauseQueue = false,
  ) {}
}

/**
 * `return later("30s")` from a handler: not done yet, come back in 30 s; no attempt is spent.
 * A `payload` is held to the same rules as an added job's (JSON it can carry, the instance's
 * size limit); one that breaks them fails the attempt with that error.
 */
export function later(delay: Duration, payload?: unknown): Release {
  return new Release(parseDuration(delay, "later"), payload);
}

/**
 * `return slowDown("30s")` from a handler: the other side said "slow down" (HTTP 429 with
 * `Retry-After`, a gateway's busy code). The job is released without spending an attempt AND its
 * queue is paused until then, so no worker of any process starts another of its jobs before
 * (docs/flow-control.md). A store that refuses pauses (a partitioned Redis) still releases the
 * job; the worker reports the refusal.
 */
export function slowDown(delay: Duration): Release {
  return new Release(parseDuration(delay, "slowDown"), undefined, true);
}

/**
 * Returned by a handler to complete its job and add follow-up jobs in the same atomic step:
 * the follow-ups exist if and only if this job completed (a check's outcome). They must be in
 * the worker's own queue.
 */
export class CompleteWith {
  constructor(
    readonly result: unknown,
    readonly enqueue: NewJob[],
  ) {}
}
