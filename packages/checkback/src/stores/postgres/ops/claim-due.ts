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
 * Rate limits (flow/rate-limit.ts): the statement also probes queue_flow. A queue with a row is
 * claimed nothing by it (lock_due gets a limit of 0) and is claimed again in a transaction that
 * locks the row first, takes what the bucket allows and charges it (claimDue below); a queue
 * without one is claimed in this one statement, as before.
 *
 * The next due instant is read in the same statement. Its SELECT sees the snapshot from before
 * the UPDATE, so it skips the rows just taken; their new due instant is the lease expiry, which
 * the caller folds in. Rows another claimer holds locked count as due now, so a worker that lost
 * the race looks again at once instead of sleeping past them.
 */
const CLAIM = ({ jobs, now, schema }: SchemaSql) => `
  WITH clock AS (SELECT ${now} AS now),
  flow AS (SELECT NOT $4::boolean AND EXISTS (SELECT 1 FROM ${schema}.queue_flow f WHERE f.queue = $1) AS limited),
  due AS (
    SELECT d.id, d.due_at, (d.state = 'active') AS expired, (d.state = 'active' AND d.attempts >= d.max_attempts) AS bury
    FROM clock, flow, ${schema}.lock_due($1, clock.now, CASE WHEN flow.limited THEN 0 ELSE $2 END) d
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
  next AS (SELECT ${schema}.next_due($1, coalesce((SELECT array_agg(id) FROM due), '{}')) AS due_at)
  SELECT claimed.*, clock.now AS claimed_now, (SELECT due_at FROM next) AS next_due_at,
    (SELECT limited FROM flow) AS limited
  FROM clock LEFT JOIN claimed ON true
  ORDER BY claimed.claimed_due_at - claimed.priority * ${PRIORITY_STEP_MS}::bigint, claimed.id`;

type ClaimRow = Partial<JobRow> & {
  claimed_due_at: string | null;
  claimed_now: string;
  next_due_at: string | null;
  limited: boolean;
};

export async function claimDue(ctx: PgContext, queue: string, options: ClaimOptions): Promise<ClaimResult> {
  const plain = await claimRows(ctx.db, ctx, queue, options, false);
  if (plain !== "limited") return plain;
  // The queue has a rate limit or a pause: lock its bucket, claim what it allows, charge it.
  return ctx.transaction(async (db) => {
    const { bucket, now } = await lockBucket(db, ctx, queue);
    const allowed = bucket ? allowedStarts(bucket, now, options.limit) : options.limit;
    const result = (await claimRows(db, ctx, queue, { ...options, limit: allowed }, true)) as ClaimResult;
    if (!bucket) return result;
    const charged = charge(bucket, result.now, result.jobs.length);
    await saveBucket(db, ctx, queue, charged);
    return { ...result, nextDueAt: limitedNextDue(result.nextDueAt, charged, result.now) };
  });
}

/** The claim itself; "limited" (nothing claimed) when the queue has a bucket the caller has not locked. */
async function claimRows(
  db: Queryable,
  ctx: PgContext,
  queue: string,
  { limit, leaseMs }: ClaimOptions,
  bucketLocked: boolean,
): Promise<ClaimResult | "limited"> {
  const jobs: JobRecord[] = [];
  let now = 0;
  let nextDueAt: number | null = null;
  // At least once, so that even a claim of nothing reports the clock and the next due instant.
  for (;;) {
    const wanted = Math.max(0, limit - jobs.length);
    const rows = await run<ClaimRow>(db, ctx.sql, CLAIM, [queue, wanted, leaseMs, bucketLocked]);
    if (rows[0]!.limited) return "limited";
    now = Number(rows[0]!.claimed_now);
    nextDueAt = rows[0]!.next_due_at === null ? null : Number(rows[0]!.next_due_at);
    let taken = 0;
    for (const row of rows) {
      if (row.id === null || row.id === undefined) continue;
      taken += 1;
      if (row.state === "active") jobs.push(toRecord(row as JobRow));
    }
    if (taken < wanted || jobs.length >= limit) break;
  }
  // The leases just given out are due again when they expire.
  if (jobs.length > 0) {
    const leaseExpiresAt = jobs[0]!.leaseExpiresAt!;
    if (nextDueAt === null || leaseExpiresAt < nextDueAt) nextDueAt = leaseExpiresAt;
  }
  return { jobs, nextDueAt, now };
}
