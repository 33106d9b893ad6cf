import type { GroupLimits, GroupState } from "../../../flow/groups.js";
import { refill, withLimit, withPause } from "../../../flow/rate-limit.js";
import { resolveWhen } from "../../new-job.js";
import type { When } from "../../store.js";
import type { SqliteContext } from "../context.js";
import {
  bucketOf,
  emptyGroup,
  GROUP_COLUMNS,
  type GroupRow,
  limitsOf,
  readGroup,
  readGroupDefaults,
  saveGroup,
} from "./groups.js";

/**
 * Group limits, pauses and what is shown of groups (flow/groups.ts; the rows are ops/groups.ts's).
 *
 * Mode: each runs in one write transaction (reads in a read one), beside the claims.
 *
 * - setGroupLimits for one group writes its own limits into its row (creating the row: own
 *   limits are kept even while the group has no job) and recomputes it. Tokens carry over,
 *   capped at the new bucket (flow/rate-limit.ts withLimit), so changing a limit never hands
 *   out a fresh bucket.
 * - setGroupLimits for the queue's default (`group` null) writes group_defaults and then
 *   recomputes every row of the queue that has no limits of its own, a page of names at a
 *   time: O(groups of the queue) in one transaction, which is the price of a default that
 *   changes readiness (a concurrency lifted frees every held group at once). Limits are set
 *   rarely (at start-up, by a person), not per job.
 * - pauseGroup keeps the pause in the group's bucket (as pauseQueue does in queue_flow) and
 *   recomputes the group; a resume that makes it ready wakes the workers.
 * - groupState reads one row; busiestGroups walks job_groups_busiest (active DESC, name) for
 *   the first `limit` and counts the groups with an active job in the same partial index:
 *   O(active groups), which the workers' concurrency bounds.
 */
const UPSERT_DEFAULTS = `
  INSERT INTO group_defaults (queue, concurrency, rate, per_ms) VALUES (?, ?, ?, ?)
  ON CONFLICT (queue) DO UPDATE SET concurrency = excluded.concurrency, rate = excluded.rate, per_ms = excluded.per_ms`;

const DELETE_DEFAULTS = "DELETE FROM group_defaults WHERE queue = ?";

const SELECT_DEFAULTED_PAGE = `
  SELECT ${GROUP_COLUMNS} FROM job_groups
  WHERE queue = ? AND name > ? AND own_limits = 0
  ORDER BY name
  LIMIT ?`;

const SELECT_BUSIEST = `
  SELECT ${GROUP_COLUMNS} FROM job_groups
  WHERE queue = ? AND active > 0
  ORDER BY active DESC, name
  LIMIT ?`;

const COUNT_ACTIVE = "SELECT count(*) AS n FROM job_groups WHERE queue = ? AND active > 0";

const PAGE = 1_000;

/** Runs inside a write transaction. */
export function setGroupLimits(
  ctx: SqliteContext,
  queue: string,
  group: string | null,
  limits: GroupLimits | null,
  now: number,
): void {
  if (group === null) {
    setDefaultLimits(ctx, queue, limits, now);
    return;
  }
  const before = readGroup(ctx, queue, group);
  const row = before ? { ...before } : emptyGroup(group);
  const defaults = readGroupDefaults(ctx, queue);
  const previous = limitsOf(row, defaults);
  row.own_limits = limits ? 1 : 0;
  row.concurrency = limits?.concurrency ?? null;
  row.rate = limits?.limit?.rate ?? null;
  row.per_ms = limits?.limit?.perMs ?? null;
  const next = limitsOf(row, defaults);
  const bucket = withLimit(bucketOf(row, previous.limit, now), next.limit, now);
  saveGroup(ctx, queue, row, next, bucket, before?.ready_at ?? null, now);
}

function setDefaultLimits(ctx: SqliteContext, queue: string, limits: GroupLimits | null, now: number): void {
  const previous = readGroupDefaults(ctx, queue);
  if (limits === null) ctx.statement(DELETE_DEFAULTS).run(queue);
  else {
    ctx
      .statement(UPSERT_DEFAULTS)
      .run(queue, limits.concurrency, limits.limit?.rate ?? null, limits.limit?.perMs ?? null);
  }
  const next = limits ?? { concurrency: null, limit: null };
  const page = ctx.statement<GroupRow>(SELECT_DEFAULTED_PAGE);
  let after = "";
  for (;;) {
    const rows = page.all(queue, after, PAGE);
    for (const before of rows) {
      const row = { ...before };
      const bucket = withLimit(bucketOf(row, previous?.limit ?? null, now), next.limit, now);
      saveGroup(ctx, queue, row, next, bucket, before.ready_at, now);
    }
    if (rows.length < PAGE) return;
    after = rows.at(-1)!.name;
  }
}

/** Runs inside a write transaction. */
export function pauseGroup(ctx: SqliteContext, queue: string, group: string, until: When | null, now: number): void {
  const before = readGroup(ctx, queue, group);
  const row = before ? { ...before } : emptyGroup(group);
  const limits = limitsOf(row, readGroupDefaults(ctx, queue));
  const bucket = withPause(bucketOf(row, limits.limit, now), until === null ? null : resolveWhen(until, now), now);
  saveGroup(ctx, queue, row, limits, bucket, before?.ready_at ?? null, now);
}

export function readGroupState(ctx: SqliteContext, queue: string, group: string, now: number): GroupState {
  return stateOf(readGroup(ctx, queue, group) ?? emptyGroup(group), readGroupDefaults(ctx, queue), now);
}

export function busiestGroups(
  ctx: SqliteContext,
  queue: string,
  limit: number,
  now: number,
): { groups: GroupState[]; activeGroups: number } {
  const defaults = readGroupDefaults(ctx, queue);
  const groups = ctx
    .statement<GroupRow>(SELECT_BUSIEST)
    .all(queue, limit)
    .map((row) => stateOf(row, defaults, now));
  const { n } = ctx.statement<{ n: number }>(COUNT_ACTIVE).get(queue)!;
  return { groups, activeGroups: n };
}

function stateOf(row: GroupRow, defaults: GroupLimits | null, now: number): GroupState {
  const limits = limitsOf(row, defaults);
  const bucket = bucketOf(row, limits.limit, now);
  return {
    group: row.name,
    limits: { concurrency: limits.concurrency, limit: limits.limit && { ...limits.limit } },
    ownLimits: row.own_limits === 1,
    active: row.active,
    scheduled: row.scheduled,
    pausedUntil: row.paused_until !== null && row.paused_until > now ? row.paused_until : null,
    tokens: bucket?.limit ? Math.floor(refill(bucket, now)) : null,
  };
}
