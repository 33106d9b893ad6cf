import type { GroupLimits, GroupState } from "../../../flow/groups.js";
import { type Bucket, type RateLimit, refill, withLimit } from "../../../flow/rate-limit.js";
import type { When } from "../../store.js";
import { type PgContext, run, type SchemaSql } from "../context.js";
import { whenColumns } from "./add-jobs.js";

/**
 * A group's limits and pause, and what the dashboard reads of groups (group-schema.ts has the
 * tables and the rule's functions).
 *
 * setGroupLimits / pauseGroup: a transaction of two statements: write the row (job_groups for
 * one group, group_defaults for the queue's default), then group_refresh, because the limits in
 * force and the pause are inputs of the group's readyAt. Changing the queue's default refreshes
 * every group of the queue that has no limits of its own, locked in name order: a cost in
 * proportion to the queue's live groups, paid by an operator's action, never by a claim. A
 * group's bucket keeps its tokens across a change of limits; it refills at the new rate from its
 * last charge and never above the new bucket.
 *
 * groupState reads one row (a group with none answers zeros and the queue's default);
 * busiestGroups walks job_groups_busiest (active DESC, name) for the top and counts its entries
 * for the number of groups with an active job: one entry per such group, not per job.
 */
interface GroupRow {
  now: string;
  group_name: string | null;
  active: number | null;
  scheduled: number | null;
  own_limits: boolean | null;
  concurrency: number | null;
  rate: number | null;
  per_ms: string | null;
  tokens: number | null;
  refilled_at: string | null;
  bucket_rate: number | null;
  bucket_per_ms: string | null;
  paused_until: string | null;
}

/** The queue's default group limits, as the statements below (and ops/flow.ts) select them. */
export interface DefaultsRow {
  has_defaults: boolean;
  default_concurrency: number | null;
  default_rate: number | null;
  default_per_ms: string | null;
}

const DEFAULTS_COLUMNS = `d.queue IS NOT NULL AS has_defaults, d.concurrency AS default_concurrency,
  d.rate AS default_rate, d.per_ms AS default_per_ms`;
const GROUP_COLUMNS = `g.group_name, g.active, g.scheduled, g.own_limits, g.concurrency, g.rate, g.per_ms, g.tokens,
  g.refilled_at, g.bucket_rate, g.bucket_per_ms, g.paused_until`;

const UPSERT_DEFAULTS = ({ schema }: SchemaSql) => `
  INSERT INTO ${schema}.group_defaults (queue, concurrency, rate, per_ms) VALUES ($1, $2, $3, $4)
  ON CONFLICT (queue) DO UPDATE SET concurrency = excluded.concurrency, rate = excluded.rate, per_ms = excluded.per_ms`;
const DELETE_DEFAULTS = ({ schema }: SchemaSql) => `DELETE FROM ${schema}.group_defaults WHERE queue = $1`;
const REFRESH_DEFAULTED = ({ schema }: SchemaSql) => `
  SELECT count(${schema}.group_refresh(g.queue, g.group_name)) AS refreshed
  FROM (SELECT queue, group_name FROM ${schema}.job_groups WHERE queue = $1 AND NOT own_limits
        ORDER BY group_name FOR UPDATE) g`;
const SET_OWN = ({ schema }: SchemaSql) => `
  INSERT INTO ${schema}.job_groups AS g (queue, group_name, own_limits, concurrency, rate, per_ms)
  VALUES ($1, $2, $3, $4, $5, $6)
  ON CONFLICT (queue, group_name) DO UPDATE
  SET own_limits = excluded.own_limits, concurrency = excluded.concurrency, rate = excluded.rate, per_ms = excluded.per_ms`;
const SET_PAUSE = ({ schema, now }: SchemaSql) => `
  WITH clock AS (SELECT ${now} AS now)
  INSERT INTO ${schema}.job_groups AS g (queue, group_name, paused_until)
  SELECT $1, $2, CASE WHEN $3::boolean THEN coalesce($4::bigint, clock.now + $5::bigint) END FROM clock
  ON CONFLICT (queue, group_name) DO UPDATE SET paused_until = excluded.paused_until`;
const REFRESH = ({ schema }: SchemaSql) => `SELECT ${schema}.group_refresh($1, $2) AS ready_at`;
const STATE = ({ schema, now }: SchemaSql) => `
  SELECT ${now} AS now, ${GROUP_COLUMNS}, ${DEFAULTS_COLUMNS}
  FROM (SELECT 1) one
    LEFT JOIN ${schema}.job_groups g ON g.queue = $1 AND g.group_name = $2
    LEFT JOIN ${schema}.group_defaults d ON d.queue = $1`;
const BUSIEST = ({ schema, now }: SchemaSql) => `
  WITH top AS (
    SELECT ${GROUP_COLUMNS} FROM ${schema}.job_groups g
    WHERE g.queue = $1 AND g.active > 0
    ORDER BY g.active DESC, g.group_name LIMIT $2
  )
  SELECT ${now} AS now, top.*, ${DEFAULTS_COLUMNS},
    (SELECT count(*) FROM ${schema}.job_groups c WHERE c.queue = $1 AND c.active > 0)::integer AS active_groups
  FROM (SELECT 1) one
    LEFT JOIN top ON true
    LEFT JOIN ${schema}.group_defaults d ON d.queue = $1
  ORDER BY top.active DESC, top.group_name`;

export async function setGroupLimits(
  ctx: PgContext,
  queue: string,
  group: string | null,
  limits: GroupLimits | null,
): Promise<void> {
  const columns = [limits?.concurrency ?? null, limits?.limit?.rate ?? null, limits?.limit?.perMs ?? null];
  await ctx.transaction(async (db) => {
    if (group === null) {
      if (limits) await run(db, ctx.sql, UPSERT_DEFAULTS, [queue, ...columns]);
      else await run(db, ctx.sql, DELETE_DEFAULTS, [queue]);
      await run(db, ctx.sql, REFRESH_DEFAULTED, [queue]);
      return;
    }
    await run(db, ctx.sql, SET_OWN, [queue, group, limits !== null, ...columns]);
    await run(db, ctx.sql, REFRESH, [queue, group]);
  });
}

export async function pauseGroup(ctx: PgContext, queue: string, group: string, until: When | null): Promise<void> {
  const [runAt, delayMs] = until === null ? [null, null] : whenColumns(until);
  await ctx.transaction(async (db) => {
    await run(db, ctx.sql, SET_PAUSE, [queue, group, until !== null, runAt, delayMs]);
    await run(db, ctx.sql, REFRESH, [queue, group]);
  });
}

export async function groupState(ctx: PgContext, queue: string, group: string): Promise<GroupState> {
  const [row] = await run<GroupRow & DefaultsRow>(ctx.db, ctx.sql, STATE, [queue, group]);
  return toGroupState(row!, group);
}

export async function busiestGroups(
  ctx: PgContext,
  queue: string,
  limit: number,
): Promise<{ groups: GroupState[]; activeGroups: number }> {
  const rows = await run<GroupRow & DefaultsRow & { active_groups: number }>(ctx.db, ctx.sql, BUSIEST, [
    queue,
    Math.max(1, Math.min(1000, Math.floor(limit))),
  ]);
  const groups = rows.filter((row) => row.group_name !== null).map((row) => toGroupState(row, row.group_name!));
  return { groups, activeGroups: rows[0]!.active_groups };
}

export function defaultGroupLimits(row: DefaultsRow): GroupLimits | null {
  if (!row.has_defaults) return null;
  return { concurrency: row.default_concurrency, limit: rateLimit(row.default_rate, row.default_per_ms) };
}

function toGroupState(row: GroupRow & DefaultsRow, group: string): GroupState {
  const now = Number(row.now);
  const own = row.own_limits === true;
  const limits: GroupLimits = own
    ? { concurrency: row.concurrency, limit: rateLimit(row.rate, row.per_ms) }
    : (defaultGroupLimits(row) ?? { concurrency: null, limit: null });
  const pausedUntil = row.paused_until === null ? null : Number(row.paused_until);
  // The bucket as stored, under the limit it was counted with, then as the limit in force makes
  // it (group_bucket in group-schema.ts does the same when the group next changes).
  const stored: Bucket | null =
    row.tokens === null && pausedUntil === null
      ? null
      : {
          limit: rateLimit(row.bucket_rate, row.bucket_per_ms),
          tokens: row.tokens ?? 0,
          refilledAt: row.refilled_at === null ? now : Number(row.refilled_at),
          pausedUntil,
        };
  const bucket = sameLimit(stored?.limit ?? null, limits.limit) ? stored : withLimit(stored, limits.limit, now);
  const tokens = bucket?.limit ? Math.floor(refill(bucket, now)) : null;
  return {
    group,
    limits,
    ownLimits: own,
    active: row.active ?? 0,
    scheduled: row.scheduled ?? 0,
    pausedUntil: pausedUntil !== null && pausedUntil > now ? pausedUntil : null,
    tokens,
  };
}

function sameLimit(a: RateLimit | null, b: RateLimit | null): boolean {
  return a === b || (a !== null && b !== null && a.rate === b.rate && a.perMs === b.perMs);
}

function rateLimit(rate: number | null, perMs: string | null): RateLimit | null {
  return rate === null || perMs === null ? null : { rate, perMs: Number(perMs) };
}
