import { type GroupLimits, groupReadyAt } from "../../../flow/groups.js";
import { type Bucket, charge, type RateLimit, refill } from "../../../flow/rate-limit.js";
import type { SqliteContext } from "../context.js";

/**
 * A group's row in SQLite, and the one function that recomputes it: how this store keeps THE
 * RULE of flow/groups.ts.
 *
 * Mode: every operation that changes a grouped job (add, claim, complete, settle, fail,
 * release, cancel, reschedule, redrive, an expired lease going dead) calls changeGroup in its
 * own transaction, with what changed (active ±1, scheduled ±1, a start). changeGroup reads the
 * row (primary key), applies the change, charges the group's bucket for a start, finds the
 * group's head (one seek in jobs_group_waiting), asks groupReadyAt (flow/groups.ts) for the
 * group's readyAt and writes the row back: a handful of index operations, whatever the number
 * of groups or the depth of the group. The ready index (job_groups_ready) therefore always
 * holds exactly the groups that are ready and when, which is all a claim reads (rule 3) and all
 * nextDueAt needs (rule 4).
 *
 * A readyAt that became earlier (or appeared: a finish freed a place in a group held by its
 * concurrency, a pause was lifted) wakes the queue's sleeping workers once committed.
 *
 * The row lives only while it holds something: an unfinished job, own limits, a pause not yet
 * over, or a bucket not yet full. A group whose last job finishes is deleted at once when its
 * bucket is full (always, without a rate limit); otherwise it keeps `idle_at`, the instant the
 * bucket is full again and any pause over, and is deleted by a sweep after that instant: a few
 * expired rows of the queue at each group that empties (so millions of transient groups do not
 * pile up while groups come and go), and all of them at trim. Deleting sooner would hand the
 * group a full bucket early.
 *
 * Tokens are stored NULL when the bucket is full, so a group that was never charged (most of
 * them) writes no bucket at all. The limits in force are the group's own (own_limits = 1, its
 * concurrency / rate / per_ms columns) or else the queue's default (group_defaults).
 */
export interface GroupRow {
  name: string;
  active: number;
  scheduled: number;
  served_at: number | null;
  ready_at: number | null;
  own_limits: number;
  concurrency: number | null;
  rate: number | null;
  per_ms: number | null;
  tokens: number | null;
  refilled_at: number | null;
  paused_until: number | null;
}

export interface GroupChange {
  /** Jobs that became active (+) or left active (−). */
  active?: number;
  /** Jobs that started waiting in the group (+) or stopped (−). */
  scheduled?: number;
  /** A claim started the group's head: servedAt becomes now and its bucket is charged one start. */
  started?: boolean;
}

export const GROUP_COLUMNS =
  "name, active, scheduled, served_at, ready_at, own_limits, concurrency, rate, per_ms, tokens, refilled_at, paused_until";

const SELECT_GROUP = `SELECT ${GROUP_COLUMNS} FROM job_groups WHERE queue = ? AND name = ?`;

const SELECT_HEAD_RUN_AT = `
  SELECT run_at FROM jobs
  WHERE queue = ? AND group_name = ? AND state = 'scheduled'
  ORDER BY run_at, id
  LIMIT 1`;

const UPSERT_GROUP = `
  INSERT INTO job_groups (queue, name, active, scheduled, served_at, ready_at, idle_at, own_limits, concurrency,
                          rate, per_ms, tokens, refilled_at, paused_until)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (queue, name) DO UPDATE SET active = excluded.active, scheduled = excluded.scheduled,
    served_at = excluded.served_at, ready_at = excluded.ready_at, idle_at = excluded.idle_at,
    own_limits = excluded.own_limits, concurrency = excluded.concurrency, rate = excluded.rate,
    per_ms = excluded.per_ms, tokens = excluded.tokens, refilled_at = excluded.refilled_at,
    paused_until = excluded.paused_until`;

const DELETE_GROUP = "DELETE FROM job_groups WHERE queue = ? AND name = ?";

const SELECT_IDLE = "SELECT name FROM job_groups WHERE queue = ? AND idle_at <= ? ORDER BY idle_at LIMIT ?";

const SELECT_DEFAULTS = "SELECT concurrency, rate, per_ms FROM group_defaults WHERE queue = ?";

/** Expired idle rows swept each time a group empties. */
const SWEEP_PER_CHANGE = 2;

const NO_LIMITS: GroupLimits = { concurrency: null, limit: null };

export function readGroup(ctx: SqliteContext, queue: string, name: string): GroupRow | undefined {
  return ctx.statement<GroupRow>(SELECT_GROUP).get(queue, name);
}

/** The queue's default limits for its groups, null when none are set. */
export function readGroupDefaults(ctx: SqliteContext, queue: string): GroupLimits | null {
  const row = ctx
    .statement<{ concurrency: number | null; rate: number | null; per_ms: number | null }>(SELECT_DEFAULTS)
    .get(queue);
  if (!row) return null;
  return { concurrency: row.concurrency, limit: rateLimitOf(row.rate, row.per_ms) };
}

/** The limits in force for a group: its own, else the queue's default, else none. */
export function limitsOf(group: GroupRow, defaults: GroupLimits | null): GroupLimits {
  if (group.own_limits) return { concurrency: group.concurrency, limit: rateLimitOf(group.rate, group.per_ms) };
  return defaults ?? NO_LIMITS;
}

/** The group's bucket under `limit` (tokens NULL: full), null when it has neither a rate limit nor a pause. */
export function bucketOf(group: GroupRow, limit: RateLimit | null, now: number): Bucket | null {
  if (limit === null && group.paused_until === null) return null;
  return {
    limit,
    tokens: group.tokens ?? limit?.rate ?? 0,
    refilledAt: group.refilled_at ?? now,
    pausedUntil: group.paused_until,
  };
}

export function emptyGroup(name: string): GroupRow {
  return {
    name,
    active: 0,
    scheduled: 0,
    served_at: null,
    ready_at: null,
    own_limits: 0,
    concurrency: null,
    rate: null,
    per_ms: null,
    tokens: null,
    refilled_at: null,
    paused_until: null,
  };
}

/**
 * Applies `change` to one group and recomputes it (rule 6). Returns the group's readyAt (null:
 * not ready). `known` is the row when the caller has just read it.
 */
export function changeGroup(
  ctx: SqliteContext,
  queue: string,
  name: string,
  now: number,
  change: GroupChange,
  known?: GroupRow,
): number | null {
  const before = known ?? readGroup(ctx, queue, name);
  const group = before ? { ...before } : emptyGroup(name);
  group.active = Math.max(0, group.active + (change.active ?? 0));
  group.scheduled = Math.max(0, group.scheduled + (change.scheduled ?? 0));
  const limits = limitsOf(group, readGroupDefaults(ctx, queue));
  let bucket = bucketOf(group, limits.limit, now);
  if (change.started) {
    group.served_at = now;
    if (bucket) bucket = charge(bucket, now, 1);
  }
  return saveGroup(ctx, queue, group, limits, bucket, before?.ready_at ?? null, now);
}

/**
 * Writes a group back with its readyAt recomputed (rule 2), or deletes it when it holds nothing
 * (see above); wakes the queue when the group became ready earlier. Returns the readyAt.
 */
export function saveGroup(
  ctx: SqliteContext,
  queue: string,
  group: GroupRow,
  limits: GroupLimits,
  bucket: Bucket | null,
  readyBefore: number | null,
  now: number,
): number | null {
  const headRunAt = ctx.statement<{ run_at: number }>(SELECT_HEAD_RUN_AT).get(queue, group.name)?.run_at ?? null;
  const readyAt = groupReadyAt({
    headRunAt,
    servedAt: group.served_at,
    active: group.active,
    concurrency: limits.concurrency,
    bucket,
  });
  group.ready_at = readyAt;
  keepBucket(group, bucket, now);
  const empty = group.active === 0 && headRunAt === null;
  if (headRunAt === null) group.scheduled = 0;
  let idleAt: number | null = null;
  if (empty && !group.own_limits) {
    idleAt = idleSince(group, limits.limit);
    if (idleAt === null) ctx.statement(DELETE_GROUP).run(queue, group.name);
  }
  if (!empty || group.own_limits || idleAt !== null) {
    ctx
      .statement(UPSERT_GROUP)
      .run(
        queue,
        group.name,
        group.active,
        group.scheduled,
        group.served_at,
        readyAt,
        idleAt,
        group.own_limits,
        group.concurrency,
        group.rate,
        group.per_ms,
        group.tokens,
        group.refilled_at,
        group.paused_until,
      );
  }
  if (empty) sweepIdleGroups(ctx, queue, now, SWEEP_PER_CHANGE);
  if (readyAt !== null && (readyBefore === null || readyAt < readyBefore)) ctx.wake(queue, readyAt);
  return readyAt;
}

/** Deletes up to `limit` (−1: all) rows of the queue that held nothing but a refilling bucket or a pause, once over. */
export function sweepIdleGroups(ctx: SqliteContext, queue: string, now: number, limit: number): number {
  const idle = ctx.statement<{ name: string }>(SELECT_IDLE).all(queue, now, limit);
  const remove = ctx.statement(DELETE_GROUP);
  for (const { name } of idle) remove.run(queue, name);
  return idle.length;
}

/** Stores the bucket in the row: a full bucket and a pause that is over are kept as NULL. */
function keepBucket(group: GroupRow, bucket: Bucket | null, now: number): void {
  const limit = bucket?.limit ?? null;
  if (bucket === null || limit === null || refill(bucket, now) >= limit.rate) {
    group.tokens = null;
    group.refilled_at = null;
  } else {
    group.tokens = bucket.tokens;
    group.refilled_at = bucket.refilledAt;
  }
  const pausedUntil = bucket?.pausedUntil ?? null;
  group.paused_until = pausedUntil !== null && pausedUntil > now ? pausedUntil : null;
}

/**
 * For a row with no job and no own limits: the instant it holds nothing more (its bucket full
 * under `limit`, its pause over), or null when that is already so.
 */
function idleSince(group: GroupRow, limit: RateLimit | null): number | null {
  let at = group.paused_until;
  if (limit !== null && group.tokens !== null && group.refilled_at !== null) {
    const fullAt = group.refilled_at + Math.ceil(((limit.rate - group.tokens) * limit.perMs) / limit.rate);
    if (at === null || fullAt > at) at = fullAt;
  }
  return at;
}

function rateLimitOf(rate: number | null, perMs: number | null): RateLimit | null {
  return rate === null || perMs === null ? null : { rate, perMs };
}
