import type { GroupLimits, GroupState } from "../../../flow/groups.js";
import { type Bucket, type RateLimit, refill, withLimit, withPause } from "../../../flow/rate-limit.js";
import { resolveWhen } from "../../new-job.js";
import type { When } from "../../store.js";
import type { SqliteContext } from "../context.js";
import { bucketOf, GROUP_COLUMNS, type GroupRow, limitsOf, loadGroup, readGroupDefaults, saveGroup } from "./groups.js";

/**
 * Group limits, pauses and what is shown of groups (flow/groups.ts; the rows are ops/groups.ts's).
 *
 * Mode: each runs in one write transaction (reads in a read one), beside the claims.
 *
 * - setGroupLimits for one group writes its own limits into its row (creating the row: own
 *   limits are kept even while the group has no job) and recomputes it. Tokens carry over,
 *   capped at the new bucket (flow/rate-limit.ts withLimit), so changing a limit never hands
 *   out a fresh bucket.
 * - setGroupLimits for the queue's default (`group` null) writes queue_groups and then
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
/** The row also keeps the queue's count of serves (claim-due.ts), so lifting the default leaves it. */
const SAVE_DEFAULTS = `
  INSERT INTO queue_groups (queue, defaulted, concurrency, rate, per_ms, turns) VALUES (?, ?, ?, ?, ?, 0)
  ON CONFLICT (queue) DO UPDATE SET defaulted = excluded.defaulted, concurrency = excluded.concurrency,
    rate = excluded.rate, per_ms = excluded.per_ms`;

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
  const { row: before, stored, defaults } = loadGroup(ctx, queue, group);
  const row = { ...before };
  const previous = limitsOf(row, defaults);
  row.own_limits = limits ? 1 : 0;
  row.concurrency = limits?.concurrency ?? null;
  row.rate = limits?.limit?.rate ?? null;
  row.per_ms = limits?.limit?.perMs ?? null;
  const next = limitsOf(row, defaults);
  const bucket = rebase(bucketOf(row, previous.limit, now), previous.limit, next.limit, now);
  saveGroup(ctx, queue, row, stored, next, bucket, before.ready_at, now);
}

function setDefaultLimits(ctx: SqliteContext, queue: string, limits: GroupLimits | null, now: number): void {
  const previous = readGroupDefaults(ctx, queue);
  ctx
    .statement(SAVE_DEFAULTS)
    .run(queue, limits ? 1 : 0, limits?.concurrency ?? null, limits?.limit?.rate ?? null, limits?.limit?.perMs ?? null);
  const next = limits ?? { concurrency: null, limit: null };
  const page = ctx.statement<GroupRow>(SELECT_DEFAULTED_PAGE);
  let after = "";
  for (;;) {
    const rows = page.all(queue, after, PAGE);
    for (const before of rows) {
      const row = { ...before };
      const from = previous?.limit ?? null;
      const bucket = rebase(bucketOf(row, from, now), from, next.limit, now);
      saveGroup(ctx, queue, row, true, next, bucket, before.ready_at, now);
    }
    if (rows.length < PAGE) return;
    after = rows.at(-1)!.name;
  }
}

/** Runs inside a write transaction. */
export function pauseGroup(ctx: SqliteContext, queue: string, group: string, until: When | null, now: number): void {
  const { row: before, stored, defaults } = loadGroup(ctx, queue, group);
  const row = { ...before };
  const limits = limitsOf(row, defaults);
  const bucket = withPause(bucketOf(row, limits.limit, now), until === null ? null : resolveWhen(until, now), now);
  saveGroup(ctx, queue, row, stored, limits, bucket, before.ready_at, now);
}

export function readGroupState(ctx: SqliteContext, queue: string, group: string, now: number): GroupState {
  const { row, defaults } = loadGroup(ctx, queue, group);
  return stateOf(row, defaults, now);
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

/**
 * The bucket once the rate limit in force goes from `from` to `to`: unchanged when it is the
 * same limit (its tokens keep when they were counted), else carried over (withLimit).
 */
function rebase(bucket: Bucket | null, from: RateLimit | null, to: RateLimit | null, now: number): Bucket | null {
  const same = from === to || (from !== null && to !== null && from.rate === to.rate && from.perMs === to.perMs);
  return same ? bucket : withLimit(bucket, to, now);
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
