import { describeValue } from "../core/describe.js";
import { invalidOption } from "../core/errors.js";
import {
  type Bucket,
  nextStartAt,
  type RateLimit,
  type RateLimitInput,
  refill,
  resolveRateLimit,
} from "./rate-limit.js";

/**
 * Groups: a job may belong to a group (a merchant, a user, a gateway). The store then keeps,
 * per (queue, group), across every worker and process:
 *
 * - **concurrency**: at most K of the group's jobs active at once (K null: no cap);
 * - **a rate limit**: the token bucket of rate-limit.ts, per group (charged on the store's
 *   clock by the claim that starts the job, like the queue's own bucket, which still applies);
 * - **a pause** (a handler's `slowDown` on a grouped job pauses its group, not the queue);
 * - **a turn**: groups are served round-robin, so no group starves another, however skewed
 *   their backlogs.
 *
 * Limits are set per queue for every group (`group` null: the default) and may be overridden
 * for one group; a group without its own limits takes the queue's default. A group exists only
 * while it holds unfinished jobs or flow state worth keeping (a pause, a bucket not yet full):
 * millions of groups cost a row (or a hash) each while they have work, nothing after.
 *
 * THE RULE (every store keeps it; the memory store is the reference):
 *
 * 1. A grouped job while scheduled waits in its group, not in the queue's ordinary due index.
 *    Within a group, jobs come out in (runAt, insertion) order. A job cannot have both a group
 *    and a priority other than 0 (INVALID_OPTION, field "priority"): a group's place is its turn.
 *
 * 2. A group is READY AT
 *
 *        readyAt = max(head's runAt, servedAt, the group bucket's next allowed start, pausedUntil)
 *
 *    where head is the group's earliest scheduled job and servedAt the store instant a claim
 *    last started one of its jobs (absent: −∞). A group with no scheduled job, or with
 *    `active ≥ concurrency`, is not ready at all (it leaves the ready index; it comes back when
 *    a job of it is added, finishes or is released, and that change wakes sleeping workers).
 *
 * 3. A claim at `now` takes, in one atomic step, from two sources merged by a single number:
 *    ungrouped due entries by claim rank (priority.ts), and ready groups with readyAt ≤ now by
 *    readyAt (ties: ungrouped first, then groups by name — except that a group whose readyAt is
 *    its servedAt goes behind those, in the order the groups were served). Taking from a group
 *    starts ONE job (its head), sets servedAt = now, recomputes its readyAt (which is now ≥ now)
 *    and puts it back behind every group already waiting at or before that instant: within one
 *    claim the groups are served one job per pass, in turn — round-robin. The claim stops at
 *    `limit`, at the queue's bucket, or when nothing is ready.
 *
 * 4. The claim's nextDueAt is the earliest of the ordinary due head (including leases that
 *    expire) and the lowest readyAt of the ready index, then bounded by the queue's bucket. A
 *    group held by its concurrency has no readyAt: workers sleep, and a finish wakes them.
 *
 * 5. Active grouped jobs stay in the ordinary lease index: a lease that runs out is claimed
 *    again by the ordinary path, like any other. A reclaim keeps the group's active count (the
 *    job never stopped counting) and is not charged to the group's bucket.
 *
 * 6. The active count goes down when a grouped job leaves `active` by any road: complete,
 *    settle, fail (retry or dead), release, cancel, and an expired lease with no attempts left.
 *    Every change to a group's jobs (add, claim, finish, release, reschedule, cancel, redrive,
 *    purge) recomputes that group's readyAt.
 *
 * Fairness bound: with G groups ready, each gets a turn within G starts of becoming ready,
 * whatever the other groups hold; the skewed group cannot take a second turn while another
 * group waits. Rule 3's readyAt ordering is what lets a Redis sorted set, an SQL index or a
 * heap hold the turn order for millions of groups at O(log n) per turn.
 */

export const MAX_GROUP_LENGTH = 256;
export const MAX_GROUP_CONCURRENCY = 1_000_000;

export interface GroupLimits {
  /** At most this many of a group's jobs active at once; null: no cap. */
  concurrency: number | null;
  /** Starts per interval for each group; null: none. */
  limit: RateLimit | null;
}

/** What the caller passes: `{ concurrency: 2, rate: { rate: 10, per: "1s" } }`; an absent field is null. */
export interface GroupLimitsInput {
  concurrency?: number | null;
  rate?: RateLimitInput | null;
}

/** A group's flow state, as a store tells it. */
export interface GroupState {
  group: string;
  /** The limits in force: the group's own, else the queue's default for groups. */
  limits: GroupLimits;
  /** True when `limits` are the group's own, false when they are the queue's default. */
  ownLimits: boolean;
  /** Jobs of the group active now, and scheduled (waiting, due or not). */
  active: number;
  scheduled: number;
  /** The instant a pause of this group ends, null when not paused (an ended pause is not shown). */
  pausedUntil: number | null;
  /** Whole starts the group's bucket allows now, null without a rate limit. */
  tokens: number | null;
}

/** A job's group: absent or null means none; otherwise a non-empty string of at most 256 characters with no control character. */
export function resolveGroup(group: unknown): string | null {
  if (group === undefined || group === null) return null;
  if (typeof group !== "string" || group.length === 0 || group.length > MAX_GROUP_LENGTH) {
    throw invalidOption(`group must be a string of 1 to ${MAX_GROUP_LENGTH} characters, not ${describeValue(group)}`, {
      field: "group",
    });
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(group)) {
    throw invalidOption("group must not contain control characters", { field: "group" });
  }
  return group;
}

/** Rule 1: a grouped job has priority 0. */
export function checkGroupPriority(group: string | null, priority: number): void {
  if (group !== null && priority !== 0) {
    throw invalidOption("a job in a group cannot have a priority: its group's turn orders it (docs/flow-control.md)", {
      field: "priority",
      value: priority,
    });
  }
}

export function resolveGroupLimits(input: GroupLimitsInput | null): GroupLimits | null {
  if (input === null) return null;
  if (typeof input !== "object" || Array.isArray(input)) {
    throw invalidOption(`group limits are { concurrency, rate } or null, not ${describeValue(input)}`, {
      field: "limits",
    });
  }
  for (const field of Object.keys(input)) {
    if (field !== "concurrency" && field !== "rate") {
      throw invalidOption(`unknown group limit ${describeValue(field)}: use concurrency and rate`, { field });
    }
  }
  const { concurrency = null, rate = null } = input;
  if (
    concurrency !== null &&
    (typeof concurrency !== "number" ||
      !Number.isInteger(concurrency) ||
      concurrency < 1 ||
      concurrency > MAX_GROUP_CONCURRENCY)
  ) {
    throw invalidOption(`concurrency must be an integer from 1 to ${MAX_GROUP_CONCURRENCY}`, {
      field: "concurrency",
      value: concurrency,
    });
  }
  const limit = resolveRateLimit(rate);
  if (concurrency === null && limit === null) return null;
  return { concurrency, limit };
}

/** The inputs of a group's readyAt (rule 2). */
export interface GroupTurn {
  /** runAt of the group's earliest scheduled job; null when it has none. */
  headRunAt: number | null;
  servedAt: number | null;
  active: number;
  concurrency: number | null;
  /** The group's bucket (its rate limit and pause), null when it has neither. */
  bucket: Bucket | null;
}

/**
 * Rule 2: the instant the group is next ready, or null when it is not ready at all. A bucket
 * short of a token is asked from the later of the candidate instant and its last charge, so a
 * bucket emptied by the last start is never thought refilled before it is.
 */
export function groupReadyAt(turn: GroupTurn): number | null {
  if (turn.headRunAt === null) return null;
  if (turn.concurrency !== null && turn.active >= turn.concurrency) return null;
  let at = turn.headRunAt;
  if (turn.servedAt !== null && turn.servedAt > at) at = turn.servedAt;
  if (turn.bucket) {
    const { bucket } = turn;
    const short = bucket.limit !== null && refill(bucket, Math.max(at, bucket.refilledAt)) < 1;
    const start = nextStartAt(bucket, short ? Math.max(at, bucket.refilledAt) : at);
    if (start > at) at = start;
  }
  return at;
}
