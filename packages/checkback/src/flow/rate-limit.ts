import { describeValue } from "../core/describe.js";
import { type Duration, parseDuration } from "../core/duration.js";
import { invalidOption } from "../core/errors.js";
import type { GroupLimits } from "./groups.js";

/**
 * Rate limits: at most `rate` job starts per `perMs`, for a whole queue, across every worker.
 *
 * A token bucket rather than a sliding window: its state is three numbers per limited queue
 * (tokens, when they were last counted, a pause), where a sliding window must remember every
 * start of the last interval; and its bound is the one asked for — the bucket holds at most
 * `rate` tokens, so no interval of `perMs` sees more than `rate` starts beyond the steady
 * refill (no burst above the bucket). Tokens refill continuously at rate / perMs.
 *
 * The bucket lives in the store and is charged inside the claim, on the store's clock: a claim
 * takes at most the whole tokens left, and charges only the jobs it actually starts. A job held
 * back is not touched at all (no attempt, no change of place). The claim answers the instant
 * the bucket next allows a start, so a worker sleeps until then instead of polling.
 *
 * A pause (`pausedUntil`) holds every start until that instant: a queue paused because the
 * other side said "slow down". It is kept in the same state, so a paused queue with no rate
 * has a bucket with `rate` null.
 *
 * The arithmetic below is the one rule; the Redis scripts repeat it in Lua (include/limit.lua).
 */
export interface RateLimit {
  /** Starts allowed per interval: a positive integer. */
  rate: number;
  /** The interval, in ms. */
  perMs: number;
}

/** What the caller passes: `{ rate: 100, per: "1s" }`. */
export interface RateLimitInput {
  rate: number;
  per: Duration;
}

export interface Bucket {
  limit: RateLimit | null;
  tokens: number;
  refilledAt: number;
  pausedUntil: number | null;
}

export const MAX_RATE = 1_000_000;
export const MAX_LIMIT_INTERVAL_MS = 24 * 3_600_000;

export function resolveRateLimit(input: RateLimitInput | null): RateLimit | null {
  if (input === null) return null;
  if (typeof input !== "object") {
    throw invalidOption(`a rate limit is { rate, per } or null, not ${describeValue(input)}`, { field: "limit" });
  }
  const { rate, per } = input;
  if (typeof rate !== "number" || !Number.isInteger(rate) || rate < 1 || rate > MAX_RATE) {
    throw invalidOption(`rate must be an integer from 1 to ${MAX_RATE}`, { field: "rate", value: rate });
  }
  const perMs = parseDuration(per, "per");
  if (!Number.isInteger(perMs) || perMs < 1 || perMs > MAX_LIMIT_INTERVAL_MS) {
    throw invalidOption("per must be from 1 ms to 24 h", { field: "per", value: per });
  }
  return { rate, perMs };
}

/** A fresh bucket: full. */
export function newBucket(limit: RateLimit | null, now: number): Bucket {
  return { limit, tokens: limit?.rate ?? 0, refilledAt: now, pausedUntil: null };
}

/** The bucket's tokens at `now` (refilled, never above the bucket). */
export function refill(bucket: Bucket, now: number): number {
  if (!bucket.limit) return Number.POSITIVE_INFINITY;
  const { rate, perMs } = bucket.limit;
  return Math.min(rate, bucket.tokens + (Math.max(0, now - bucket.refilledAt) * rate) / perMs);
}

/** How many starts the bucket allows at `now`, up to `wanted`. */
export function allowedStarts(bucket: Bucket, now: number, wanted: number): number {
  if (bucket.pausedUntil !== null && bucket.pausedUntil > now) return 0;
  return Math.min(wanted, Math.floor(refill(bucket, now)));
}

/** The bucket after `started` starts at `now`. */
export function charge(bucket: Bucket, now: number, started: number): Bucket {
  if (!bucket.limit) return bucket;
  return { ...bucket, tokens: refill(bucket, now) - started, refilledAt: now };
}

/** The earliest instant the bucket allows a start (now, if it does). */
export function nextStartAt(bucket: Bucket, now: number): number {
  let at = now;
  if (bucket.pausedUntil !== null && bucket.pausedUntil > at) at = bucket.pausedUntil;
  if (bucket.limit) {
    const tokens = refill(bucket, at);
    if (tokens < 1) at += Math.ceil(((1 - tokens) * bucket.limit.perMs) / bucket.limit.rate);
  }
  return at;
}

/** A claim's next due instant once the bucket has its say: nothing is due before a start is allowed. */
export function limitedNextDue(nextDueAt: number | null, bucket: Bucket, now: number): number | null {
  return nextDueAt === null ? null : Math.max(nextDueAt, nextStartAt(bucket, now));
}

/** The bucket once its limit is set (null: lifted). Tokens carry over, capped at the new bucket; null when nothing is left to keep. */
export function withLimit(bucket: Bucket | null, limit: RateLimit | null, now: number): Bucket | null {
  const pausedUntil = bucket?.pausedUntil ?? null;
  if (limit === null) return pausedUntil === null ? null : { ...newBucket(null, now), pausedUntil };
  const tokens = bucket?.limit ? Math.min(limit.rate, refill(bucket, now)) : limit.rate;
  return { limit, tokens, refilledAt: now, pausedUntil };
}

/** The bucket once paused until `until` (null: resumed); null when nothing is left to keep. */
export function withPause(bucket: Bucket | null, until: number | null, now: number): Bucket | null {
  const base = bucket ?? newBucket(null, now);
  if (until === null && !base.limit) return null;
  return { ...base, pausedUntil: until };
}

/** What a store tells about a queue's flow control. */
export interface FlowSettings {
  limit: RateLimit | null;
  /** The instant a pause ends, null when the queue is not paused (a pause that ended is not shown). */
  pausedUntil: number | null;
  /** Whole starts the bucket allows now (0: jobs that are due wait), null without a rate limit. */
  tokens: number | null;
  /** The queue's default limits for each of its groups (flow/groups.ts), null when none are set. */
  groupLimits: GroupLimits | null;
}

export function flowSettings(bucket: Bucket | null, now: number, groupLimits: GroupLimits | null = null): FlowSettings {
  const pausedUntil = bucket?.pausedUntil ?? null;
  return {
    limit: bucket?.limit ?? null,
    pausedUntil: pausedUntil !== null && pausedUntil > now ? pausedUntil : null,
    tokens: bucket?.limit ? Math.floor(refill(bucket, now)) : null,
    groupLimits,
  };
}
