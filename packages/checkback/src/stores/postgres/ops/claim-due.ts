import type { JobRecord } from "../../../core/job.js";
import { PRIORITY_STEP_MS } from "../../../flow/priority.js";
import { allowedStarts, charge, limitedNextDue } from "../../../flow/rate-limit.js";
import type { ClaimOptions, ClaimResult } from "../../store.js";
import { type PgContext, type Queryable, run, type SchemaSql } from "../context.js";
import { type JobRow, jobColumns, toRecord } from "../rows.js";
import { lockBucket, saveBucket } from "./flow.js";

/**
 * claimDue: hands out up to `limit` due jobs under fresh leases, in ONE statement.
 *
 * Mode: the `due` CTE (function lock_due, see schema.ts for why a function) walks jobs_due — `(queue, due_at ≤ now)` in (due_at, id) order, which is
 * due-instant order with FIFO among equal instants — and locks what it takes with
 * FOR UPDATE SKIP LOCKED: two workers claiming at once each take different rows instead of
 * queueing behind each other's locks, and neither can take a row the other holds. A row that
 * another claim changed and committed while this one waited is re-checked against
 * `due_at ≤ now` on its new version (read committed), so a freshly leased job is never taken
 * twice. The UPDATE then leases every taken row and RETURNs it; lease tokens are drawn by the
 * server (gen_random_uuid), so no round trip is spent fetching rows first.
 *
 * A taken row that is still active is one whose lease ran out (its holder died or stalled): the
 * attempt is recorded as a "lease expired" error; if it had used all its attempts it goes dead
 * instead and is not handed out. Dead ones use up places of `limit` in the statement, so the
 * claim repeats in that (rare) case until `limit` jobs are claimed or none are due.
 *
 * Rate limits (flow/rate-limit.ts) and groups (flow/groups.ts, group-schema.ts): the statement
 * also probes queue_flow and the first entry of job_groups_ready, two index seeks. A queue with
 * a bucket, or with a group ready now, is claimed nothing by it (lock_due gets a limit of 0) and
 * is claimed again by claim_turns, which merges the ordinary due entries with the groups' turns;
 * a queue with a bucket does that in a transaction that locks the bucket row first, takes what
 * it allows and charges it (claimDue below). Any other queue is claimed in this one statement,
 * as before groups existed: its grouped jobs, if any, are not ready, and their earliest ready_at
 * is folded into the next due instant (rule 4).
 *
 * A grouped job found here is an expired lease (scheduled grouped jobs are not in jobs_due): it
 * is claimed again without touching its group (rule 5), or buried, which frees its place in the
 * group (group_change, in group-name order). A claim that buried a grouped job reports the next
 * due instant as now: the group may have become ready, and the worker looks again at once.
 *
 * The next due instant is read in the same statement. Its SELECT sees the snapshot from before
 * the UPDATE, so it skips the rows just taken; their new due instant is the lease expiry, which
 * the caller folds in. Rows another claimer holds locked count as due now, so a worker that lost
 * the race looks again at once instead of sleeping past them.
 */
const CLAIM = ({ jobs, now, schema }: SchemaSql) => `
  WITH clock AS (SELECT ${now} AS now),
  flow AS (
    SELECT EXISTS (SELECT 1 FROM ${schema}.queue_flow f WHERE f.queue = $1) AS limited,
      (SELECT g.ready_at FROM ${schema}.job_groups g WHERE g.queue = $1 AND g.ready_at IS NOT NULL
       ORDER BY g.ready_at LIMIT 1) AS group_ready_at
  ),
  due AS (
    SELECT d.id, d.due_at, (d.state = 'active') AS expired, (d.state = 'active' AND d.attempts >= d.max_attempts) AS bury
    FROM clock, flow,
      ${schema}.lock_due($1, clock.now, CASE WHEN flow.limited OR flow.group_ready_at <= clock.now THEN 0 ELSE $2 END) d
  ),
  claimed AS (
    UPDATE ${jobs} j SET
      state = CASE WHEN due.bury THEN 'dead' ELSE 'active' END,
      attempts = CASE WHEN due.bury THEN j.attempts ELSE j.attempts + 1 END,
      errors = CASE WHEN due.expired
                    THEN j.errors || jsonb_build_array(jsonb_build_object('attempt', j.attempts, 'at', clock.now, 'message', 'lease expired'))
                    ELSE j.errors END,
      lease_token = CASE WHEN due.bury THEN NULL ELSE gen_random_uuid()::text END,
      lease_expires_at = CASE WHEN due.bury THEN NULL ELSE clock.now + $3 END,
      due_at = CASE WHEN due.bury THEN NULL ELSE clock.now + $3 END,
      run_at = least(j.run_at, clock.now),
      updated_at = clock.now
    FROM due, clock
    WHERE j.id = due.id
    RETURNING ${jobColumns("j")}, due.due_at AS claimed_due_at
  ),
  buried AS (
    SELECT ${schema}.group_change(b.queue, b.group_name, -1, 0, NULL, NULL)
    FROM claimed b WHERE b.state = 'dead' AND b.group_name IS NOT NULL
    ORDER BY b.group_name
  ),
  next AS (SELECT ${schema}.next_due($1, coalesce((SELECT array_agg(id) FROM due), '{}')) AS due_at)
  SELECT claimed.*, clock.now AS claimed_now, least((SELECT due_at FROM next), flow.group_ready_at) AS next_due_at,
    flow.limited, coalesce(flow.group_ready_at <= clock.now, false) AS turns,
    (SELECT count(*) FROM buried)::integer AS buried_groups
  FROM clock CROSS JOIN flow LEFT JOIN claimed ON true
  ORDER BY claimed.claimed_due_at - claimed.priority * ${PRIORITY_STEP_MS}::bigint, claimed.id`;

type ClaimRow = Partial<JobRow> & {
  claimed_due_at: string | null;
  claimed_now: string;
  next_due_at: string | null;
  limited: boolean;
  turns: boolean;
  buried_groups: number;
};

/** A row of claim_turns: the job as a composite, flattened by the statement below. */
type TurnRow = Partial<JobRow> & { ord: number; claim_now: string; next_due_at: string | null };

const CLAIM_TURNS = ({ schema }: SchemaSql) => `
  SELECT ${jobColumns("(c.job)")}, c.ord, c.claim_now, c.next_due_at
  FROM ${schema}.claim_turns($1, $2, $3) c
  ORDER BY c.ord`;

export async function claimDue(ctx: PgContext, queue: string, options: ClaimOptions): Promise<ClaimResult> {
  const plain = await claimRows(ctx.db, ctx, queue, options);
  if (plain === "turns") return claimTurns(ctx.db, ctx, queue, options);
  if (plain !== "limited") return plain;
  // The queue has a rate limit or a pause: lock its bucket, claim what it allows, charge it.
  return ctx.transaction(async (db) => {
    const { bucket, now } = await lockBucket(db, ctx, queue);
    const allowed = bucket ? allowedStarts(bucket, now, options.limit) : options.limit;
    const result = await claimTurns(db, ctx, queue, { ...options, limit: allowed });
    if (!bucket) return result;
    const charged = charge(bucket, result.now, result.jobs.length);
    await saveBucket(db, ctx, queue, charged);
    return { ...result, nextDueAt: limitedNextDue(result.nextDueAt, charged, result.now) };
  });
}

/**
 * The plain claim; "limited" (nothing claimed) when the queue has a bucket, "turns" when a group
 * is ready: then claim_turns claims instead.
 */
async function claimRows(
  db: Queryable,
  ctx: PgContext,
  queue: string,
  { limit, leaseMs }: ClaimOptions,
): Promise<ClaimResult | "limited" | "turns"> {
  const jobs: JobRecord[] = [];
  let now = 0;
  let nextDueAt: number | null = null;
  // At least once, so that even a claim of nothing reports the clock and the next due instant.
  for (;;) {
    const wanted = Math.max(0, limit - jobs.length);
    const rows = await run<ClaimRow>(db, ctx.sql, CLAIM, [queue, wanted, leaseMs]);
    const first = rows[0]!;
    now = Number(first.claimed_now);
    if (first.limited || first.turns) {
      if (jobs.length === 0) return first.limited ? "limited" : "turns";
      // A repeat found a group ready (one this claim freed): hand out what it has, look again at once.
      nextDueAt = now;
      break;
    }
    nextDueAt = first.next_due_at === null ? null : Number(first.next_due_at);
    let taken = 0;
    for (const row of rows) {
      if (row.id === null || row.id === undefined) continue;
      taken += 1;
      if (row.state === "active") jobs.push(toRecord(row as JobRow));
    }
    if (first.buried_groups > 0) nextDueAt = now; // a group's place came free: it may be ready now
    if (taken < wanted || jobs.length >= limit) break;
  }
  return withLeases(jobs, nextDueAt, now);
}

/** claim_turns (group-schema.ts): ordinary entries and group turns merged, in one statement. */
async function claimTurns(
  db: Queryable,
  ctx: PgContext,
  queue: string,
  { limit, leaseMs }: ClaimOptions,
): Promise<ClaimResult> {
  const rows = await run<TurnRow>(db, ctx.sql, CLAIM_TURNS, [queue, limit, leaseMs]);
  // Every row carries the clock and the next due instant; one (ord 0, first) carries no job.
  const first = rows[0]!;
  const jobs = rows.filter((row) => row.id !== null && row.id !== undefined).map((row) => toRecord(row as JobRow));
  return withLeases(jobs, first.next_due_at === null ? null : Number(first.next_due_at), Number(first.claim_now));
}

/** The leases just given out are due again when they expire. */
function withLeases(jobs: JobRecord[], nextDueAt: number | null, now: number): ClaimResult {
  if (jobs.length > 0) {
    const leaseExpiresAt = jobs[0]!.leaseExpiresAt!;
    if (nextDueAt === null || leaseExpiresAt < nextDueAt) nextDueAt = leaseExpiresAt;
  }
  return { jobs, nextDueAt, now };
}
