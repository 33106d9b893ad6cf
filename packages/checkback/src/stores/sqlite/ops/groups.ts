import { type GroupLimits, groupReadyAt } from "../../../flow/groups.js";
import { type Bucket, charge, type RateLimit } from "../../../flow/rate-limit.js";
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
 * nextDueAt needs (rule 4). Its order is (readyAt, turn, name): a start numbers its serve from
 * the queue's count of serves (queue_groups.turns, counted by the claim), and a group whose
 * readyAt is its servedAt carries that number as its turn, so it goes behind the groups already
 * waiting at that instant, in the order they were served; any other group has turn 0.
 *
 * A readyAt that became earlier (or appeared: a finish freed a place in a group held by its
 * concurrency, a pause was lifted) wakes the queue's sleeping workers once committed.
 *
 * The row lives only while it holds something: an unfinished job, own limits, a pause not yet
 * over, or a bucket not yet full. A group whose last job finishes is deleted at once when its
 * bucket is full (always, without a rate limit); otherwise it keeps `idle_at`, the instant the
 * bucket is full again and any pause over, and each claim of the queue first sweeps the rows
 * whose instant has passed (job_groups_idle), as the memory store does — up to 1,000 a claim, so
 * no claim holds the write lock for a mass sweep — and millions of transient groups do not pile
 * up while groups come and go.
 * Deleting sooner would hand the group a full bucket early.
 *
 * Tokens are NULL without a rate limit in force, so most groups write no bucket at all. The
 * limits in force are the group's own (own_limits = 1, its concurrency / rate / per_ms columns)
 * or else the queue's default (queue_groups).
 */
export interface GroupRow {
  name: string;
  active: number;
  scheduled: number;
  served_at: number | null;
  served_turn: number;
  ready_at: number | null;
  own_limits: number;
  concurrency: number | null;
  rate: number | null;
  per_ms: number | null;
  tokens: number | null;
  refilled_at: number | null;
  paused_until: number | null;
}

/** Where a group stands in the turn order: its readyAt and its turn at that instant. */
export interface ReadyPlace {
  at: number;
  turn: number;
}

export interface GroupChange {
  /** Jobs that became active (+) or left active (−). */
  active?: number;
  /** Jobs that started waiting in the group (+) or stopped (−). */
  scheduled?: number;
  /**
   * A claim started the group's head, as the queue's serve number `turn`: servedAt becomes now
   * and the group's bucket is charged one start.
   */
  turn?: number;
}

export const GROUP_COLUMNS =
  "name, active, scheduled, served_at, served_turn, ready_at, own_limits, concurrency, rate, per_ms, tokens, refilled_at, paused_until";

/** A group's row and the queue's default limits, in one statement: one row always, NULLs for what is not stored. */
const SELECT_GROUP = `
  SELECT g.name IS NOT NULL AS stored, g.active, g.scheduled, g.served_at, g.served_turn, g.ready_at, g.own_limits,
         g.concurrency, g.rate, g.per_ms, g.tokens, g.refilled_at, g.paused_until,
         d.defaulted, d.concurrency AS default_concurrency, d.rate AS default_rate, d.per_ms AS default_per_ms
  FROM (SELECT ? AS queue, ? AS name) AS k
  LEFT JOIN job_groups AS g ON g.queue = k.queue AND g.name = k.name
  LEFT JOIN queue_groups AS d ON d.queue = k.queue`;

const SELECT_HEAD_RUN_AT = `
  SELECT run_at FROM jobs
  WHERE queue = ? AND group_name = ? AND state = 'scheduled'
  ORDER BY run_at, id
  LIMIT 1`;

const INSERT_GROUP = `
  INSERT INTO job_groups (active, scheduled, served_at, served_turn, ready_at, ready_turn, idle_at, own_limits,
                          concurrency, rate, per_ms, tokens, refilled_at, paused_until, queue, name)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

const UPDATE_GROUP = `
  UPDATE job_groups SET active = ?, scheduled = ?, served_at = ?, served_turn = ?, ready_at = ?, ready_turn = ?,
                        idle_at = ?, own_limits = ?, concurrency = ?, rate = ?, per_ms = ?, tokens = ?,
                        refilled_at = ?, paused_until = ?
  WHERE queue = ? AND name = ?`;

const DELETE_GROUP = "DELETE FROM job_groups WHERE queue = ? AND name = ?";

const SELECT_IDLE = "SELECT name FROM job_groups WHERE queue = ? AND idle_at <= ? ORDER BY idle_at LIMIT ?";

const SELECT_DEFAULTS = "SELECT defaulted, concurrency, rate, per_ms FROM queue_groups WHERE queue = ?";

const NO_LIMITS: GroupLimits = { concurrency: null, limit: null };

/** A group as read: its row (a fresh one when none is stored) and the queue's default limits. */
export interface LoadedGroup {
  row: GroupRow;
  stored: boolean;
  defaults: GroupLimits | null;
}

interface LoadedRow extends Omit<GroupRow, "name"> {
  stored: number;
  defaulted: number | null;
  default_concurrency: number | null;
  default_rate: number | null;
  default_per_ms: number | null;
}

export function loadGroup(ctx: SqliteContext, queue: string, name: string): LoadedGroup {
  const found = ctx.statement<LoadedRow>(SELECT_GROUP).get(queue, name)!;
  const defaults = found.defaulted
    ? { concurrency: found.default_concurrency, limit: rateLimitOf(found.default_rate, found.default_per_ms) }
    : null;
  if (!found.stored) return { row: emptyGroup(name), stored: false, defaults };
  const row: GroupRow = {
    name,
    active: found.active,
    scheduled: found.scheduled,
    served_at: found.served_at,
    served_turn: found.served_turn,
    ready_at: found.ready_at,
    own_limits: found.own_limits,
    concurrency: found.concurrency,
    rate: found.rate,
    per_ms: found.per_ms,
    tokens: found.tokens,
    refilled_at: found.refilled_at,
    paused_until: found.paused_until,
  };
  return { row, stored: true, defaults };
}

/** The queue's default limits for its groups, null when none are set. */
export function readGroupDefaults(ctx: SqliteContext, queue: string): GroupLimits | null {
  const row = ctx
    .statement<{ defaulted: number; concurrency: number | null; rate: number | null; per_ms: number | null }>(
      SELECT_DEFAULTS,
    )
    .get(queue);
  return row?.defaulted ? { concurrency: row.concurrency, limit: rateLimitOf(row.rate, row.per_ms) } : null;
}

/** The limits in force for a group: its own, else the queue's default, else none. */
export function limitsOf(group: GroupRow, defaults: GroupLimits | null): GroupLimits {
  if (group.own_limits) return { concurrency: group.concurrency, limit: rateLimitOf(group.rate, group.per_ms) };
  return defaults ?? NO_LIMITS;
}

/** The group's bucket under `limit` (tokens NULL: a full one from now), null when it has neither a rate limit nor a pause. */
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
    served_turn: 0,
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
 * Applies `change` to one group and recomputes it (rule 6). Returns its place in the turn order
 * (null: not ready). `known` is the group when the caller has just read it.
 */
export function changeGroup(
  ctx: SqliteContext,
  queue: string,
  name: string,
  now: number,
  change: GroupChange,
  known?: LoadedGroup,
): ReadyPlace | null {
  const { row, stored, defaults } = known ?? loadGroup(ctx, queue, name);
  const group = { ...row };
  group.active = Math.max(0, group.active + (change.active ?? 0));
  group.scheduled = Math.max(0, group.scheduled + (change.scheduled ?? 0));
  const limits = limitsOf(group, defaults);
  let bucket = bucketOf(group, limits.limit, now);
  if (change.turn !== undefined) {
    group.served_at = now;
    group.served_turn = change.turn;
    if (bucket) bucket = charge(bucket, now, 1);
  }
  return saveGroup(ctx, queue, group, stored, limits, bucket, row.ready_at, now);
}

/**
 * Writes a group back with its readyAt recomputed (rule 2), or deletes it when it holds nothing
 * (see above); wakes the queue when the group became ready earlier. `stored`: whether the row
 * exists. Returns the group's place in the turn order, null when it is not ready.
 */
export function saveGroup(
  ctx: SqliteContext,
  queue: string,
  group: GroupRow,
  stored: boolean,
  limits: GroupLimits,
  bucket: Bucket | null,
  readyBefore: number | null,
  now: number,
): ReadyPlace | null {
  // The count is kept by every change, so a group with nothing waiting costs no seek.
  const headRunAt =
    group.scheduled > 0
      ? (ctx.statement<{ run_at: number }>(SELECT_HEAD_RUN_AT).get(queue, group.name)?.run_at ?? null)
      : null;
  const readyAt = groupReadyAt({
    headRunAt,
    servedAt: group.served_at,
    active: group.active,
    concurrency: limits.concurrency,
    bucket,
  });
  group.ready_at = readyAt;
  const readyTurn = readyAt !== null && readyAt === group.served_at ? group.served_turn : 0;
  keepBucket(group, bucket);
  const empty = group.active === 0 && headRunAt === null;
  const idleAt = empty && !group.own_limits ? keptUntil(group, limits.limit) : null;
  if (idleAt !== null && idleAt <= now) {
    if (stored) ctx.statement(DELETE_GROUP).run(queue, group.name);
  } else {
    ctx
      .statement(stored ? UPDATE_GROUP : INSERT_GROUP)
      .run(
        group.active,
        group.scheduled,
        group.served_at,
        group.served_turn,
        readyAt,
        readyTurn,
        idleAt,
        group.own_limits,
        group.concurrency,
        group.rate,
        group.per_ms,
        group.tokens,
        group.refilled_at,
        group.paused_until,
        queue,
        group.name,
      );
  }
  if (readyAt === null) return null;
  if (readyBefore === null || readyAt < readyBefore) ctx.wake(queue, readyAt);
  return { at: readyAt, turn: readyTurn };
}

/** Deletes up to `limit` rows of the queue that held nothing but a refilling bucket or a pause, once over. */
export function sweepIdleGroups(ctx: SqliteContext, queue: string, now: number, limit: number): number {
  const idle = ctx.statement<{ name: string }>(SELECT_IDLE).all(queue, now, limit);
  const remove = ctx.statement(DELETE_GROUP);
  for (const { name } of idle) remove.run(queue, name);
  return idle.length;
}

/**
 * Stores the bucket in the row, as it is: its tokens and when they were counted even once it is
 * full again, and its pause even once over. Rule 2 still counts both: a group comes back from a
 * pause, or from an empty bucket, at the instant it ended, behind what became due meanwhile.
 * Without a rate limit there are no tokens to keep.
 */
function keepBucket(group: GroupRow, bucket: Bucket | null): void {
  if (bucket?.limit) {
    group.tokens = bucket.tokens;
    group.refilled_at = bucket.refilledAt;
  } else {
    group.tokens = null;
    group.refilled_at = null;
  }
  group.paused_until = bucket?.pausedUntil ?? null;
}

/**
 * For a row with no job and no own limits: the instant it holds nothing worth keeping any more
 * (its bucket full under `limit`, its pause over); −∞ when it never held either.
 */
function keptUntil(group: GroupRow, limit: RateLimit | null): number {
  let at = group.paused_until ?? Number.NEGATIVE_INFINITY;
  if (limit !== null && group.tokens !== null && group.refilled_at !== null) {
    const fullAt = group.refilled_at + Math.ceil(((limit.rate - group.tokens) * limit.perMs) / limit.rate);
    if (fullAt > at) at = fullAt;
  }
  return at;
}

function rateLimitOf(rate: number | null, perMs: number | null): RateLimit | null {
  return rate === null || perMs === null ? null : { rate, perMs };
}
