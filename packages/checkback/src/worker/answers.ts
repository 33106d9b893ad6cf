import { describeValue } from "../core/describe.js";
import { type Duration, parseDuration } from "../core/duration.js";
import { invalidOption } from "../core/errors.js";
import type { NewJob } from "../stores/store.js";

/** What a slowDown pauses: the job's group (only that group's jobs wait) or its whole queue. */
export type SlowDownScope = "queue" | "group";

export interface SlowDownOptions {
  /** Default: "group" when the job has a group, else "queue". */
  scope?: SlowDownScope;
}

/**
 * Returned by a handler to release its job: run it again after `delayMs` without spending an
 * attempt. With a `payload`, the job comes back carrying it (a check keeps its probe history
 * this way).
 */
export class Release {
  constructor(
    readonly delayMs: number,
    readonly payload?: unknown,
    /** A slowDown: also pause the job's group or queue until the job is due again; null for later(). */
    readonly slowDown: SlowDownOptions | null = null,
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
 * group — or its queue, when it has no group or `scope` is "queue" — is paused until then, so no
 * worker of any process starts another of its group's (queue's) jobs before
 * (docs/flow-control.md). A store that refuses the pause (a partitioned Redis), or a "group"
 * scope on a job without a group, still releases the job; the worker reports the refusal.
 */
export function slowDown(delay: Duration, options: SlowDownOptions = {}): Release {
  const delayMs = parseDuration(delay, "slowDown");
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw invalidOption("slowDown options are { scope }", { field: "options" });
  }
  for (const name of Object.keys(options)) {
    if (name !== "scope") throw invalidOption(`unknown slowDown option ${describeValue(name)} (known: scope)`);
  }
  const { scope } = options;
  if (scope !== undefined && scope !== "queue" && scope !== "group") {
    throw invalidOption(`scope must be "queue" or "group", not ${describeValue(scope)}`, { field: "scope" });
  }
  return new Release(delayMs, undefined, scope === undefined ? {} : { scope });
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
