import { randomBytes } from "node:crypto";
import type { JobRecord } from "../../../core/job.js";
import { claimRank, PRIORITY_LEVELS } from "../../../flow/priority.js";
import { allowedStarts, charge, limitedNextDue } from "../../../flow/rate-limit.js";
import type { ClaimOptions, ClaimResult } from "../../store.js";
import type { SqliteContext } from "../context.js";
import { firstRows } from "../first-rows.js";
import { JOB_COLUMNS, type JobRow, toRecord } from "../rows.js";
import { readBucket, saveBucket } from "./flow.js";

/**
 * claimDue: hands out up to `limit` due jobs under fresh leases, in one IMMEDIATE transaction.
 *
 * Mode: one range read of jobs_due — `(queue, due_at ≤ now)` in (due_at, id) order, which is
 * due-instant order with FIFO among equal instants — then one primary-key update per row. The
 * claimed record is the row read plus the changes this update makes, built in JavaScript: a
 * RETURNING clause would cost a third more per job for data we already hold. The
 * write lock is held from the read to the commit, so two connections (or processes) can never
 * hand out the same job: the second claim starts after the first committed and no longer sees
 * those rows as due (their due_at is now their lease expiry). No SKIP LOCKED is needed because
 * SQLite has one writer at a time; a batch claim is what keeps that lock short per job.
 *
 * A row that is active when claimed is one whose lease ran out (its holder died or stalled):
 * that attempt is recorded as a "lease expired" error, appended by SQLite's JSON functions so
 * no error history is parsed here. If it has used all its attempts it goes dead instead and
 * does not count against `limit`, so the read repeats until `limit` jobs are claimed or none
 * are due.
 *
 * The next due instant left (for the worker's sleep) is read in the same transaction: the
 * head of jobs_due, one index seek.
 *
 * Rate limits (flow/rate-limit.ts): the queue's queue_flow row, if any, is read first; the claim
 * takes no more than the bucket allows and charges what it started, in this transaction.
 *
 * Priorities (flow/priority.ts): when the queue holds an unfinished job with a priority other
 * than 0 (one seek in the partial index jobs_due_ranked tells), the due rows are read per level
 * instead — priority 0 from jobs_due, each other level from jobs_due_ranked, each up to the
 * number wanted — and merged by claim rank. Without such a job the read is the plain one above.
 */
// The due-row reads have no LIMIT: firstRows stops after the rows wanted (first-rows.ts says why).
const SELECT_DUE = `
  SELECT ${JOB_COLUMNS} FROM jobs
  WHERE queue = ? AND due_at IS NOT NULL AND due_at <= ?
  ORDER BY due_at, id`;

const CLAIM = `
  UPDATE jobs SET state = 'active', attempts = attempts + 1, lease_token = ?, lease_expires_at = ?,
                  due_at = ?, updated_at = ?, run_at = min(run_at, ?)
  WHERE id = ?`;

const RECLAIM_EXPIRED = `
  UPDATE jobs SET errors = json_insert(errors, '$[#]', json_object('attempt', attempts, 'at', ?, 'message', 'lease expired')),
                  attempts = attempts + 1, lease_token = ?, lease_expires_at = ?, due_at = ?, updated_at = ?
  WHERE id = ?
  RETURNING ${JOB_COLUMNS}`;

const EXPIRE_TO_DEAD = `
  UPDATE jobs SET errors = json_insert(errors, '$[#]', json_object('attempt', attempts, 'at', ?, 'message', 'lease expired')),
                  state = 'dead', lease_token = NULL, lease_expires_at = NULL, due_at = NULL, updated_at = ?
  WHERE id = ?`;

const ANY_RANKED = `
  SELECT 1 FROM jobs WHERE queue = ? AND due_at IS NOT NULL AND priority <> 0 LIMIT 1`;

const SELECT_DUE_LEVEL_0 = `
  SELECT ${JOB_COLUMNS} FROM jobs
  WHERE queue = ? AND due_at IS NOT NULL AND due_at <= ? AND priority = 0
  ORDER BY due_at, id`;

const SELECT_DUE_LEVEL = `
  SELECT ${JOB_COLUMNS} FROM jobs
  WHERE queue = ? AND priority = ? AND due_at IS NOT NULL AND priority <> 0 AND due_at <= ?
  ORDER BY due_at, id`;

export const SELECT_NEXT_DUE = `
  SELECT due_at FROM jobs WHERE queue = ? AND due_at IS NOT NULL ORDER BY due_at, id LIMIT 1`;

/** Runs inside a write transaction. */
export function claimDue(
  ctx: SqliteContext,
  queue: string,
  { limit, leaseMs }: ClaimOptions,
  now: number,
): ClaimResult {
  const jobs: JobRecord[] = [];
  const leaseExpiresAt = now + leaseMs;
  const selectDue = ctx.statement<JobRow>(SELECT_DUE);
  const claim = ctx.statement(CLAIM);
  const ranked = ctx.statement(ANY_RANKED).get(queue) !== undefined;
  const bucket = readBucket(ctx, queue);
  const allowed = bucket ? allowedStarts(bucket, now, limit) : limit;
  while (jobs.length < allowed) {
    const wanted = allowed - jobs.length;
    const due = ranked ? selectRanked(ctx, queue, now, wanted) : firstRows(selectDue, [queue, now], wanted);
    const tokens = leaseTokens(due.length);
    for (let i = 0; i < due.length; i++) {
      const row = due[i]!;
      const token = tokens.slice(i * TOKEN_CHARS, (i + 1) * TOKEN_CHARS);
      if (row.state === "active") {
        if (row.attempts >= row.max_attempts) {
          ctx.statement(EXPIRE_TO_DEAD).run(now, now, row.id);
        } else {
          const reclaimed = ctx
            .statement<JobRow>(RECLAIM_EXPIRED)
            .get(now, token, leaseExpiresAt, leaseExpiresAt, now, row.id)!;
          jobs.push(toRecord(reclaimed));
        }
        continue;
      }
      claim.run(token, leaseExpiresAt, leaseExpiresAt, now, now, row.id);
      const job = toRecord(row);
      job.state = "active";
      job.attempts += 1;
      job.leaseToken = token;
      job.leaseExpiresAt = leaseExpiresAt;
      job.updatedAt = now;
      if (job.runAt > now) job.runAt = now;
      jobs.push(job);
    }
    if (due.length < wanted) break;
  }
  const next = ctx.statement<{ due_at: number }>(SELECT_NEXT_DUE).get(queue);
  const nextDueAt = next?.due_at ?? null;
  if (!bucket) return { jobs, nextDueAt, now };
  const charged = charge(bucket, now, jobs.length);
  saveBucket(ctx, queue, charged);
  return { jobs, nextDueAt: limitedNextDue(nextDueAt, charged, now), now };
}

/** The `wanted` due rows of lowest claim rank: each level's due head, merged. */
function selectRanked(ctx: SqliteContext, queue: string, now: number, wanted: number): JobRow[] {
  const rows = firstRows(ctx.statement<JobRow>(SELECT_DUE_LEVEL_0), [queue, now], wanted);
  const level = ctx.statement<JobRow>(SELECT_DUE_LEVEL);
  for (const priority of PRIORITY_LEVELS) rows.push(...firstRows(level, [queue, priority, now], wanted));
  const rank = (row: JobRow) => claimRank(row.state === "active" ? row.lease_expires_at! : row.run_at, row.priority);
  rows.sort((a, b) => rank(a) - rank(b) || a.id - b.id);
  return rows.length > wanted ? rows.slice(0, wanted) : rows;
}

/**
 * Lease tokens for a whole batch, cut from a pool of random bytes: 12 random bytes per token,
 * the same strength as core/token.ts, and 12 bytes are exactly 16 base64url characters, so the
 * batch's text splits cleanly. A call to the random source costs about as much for a few KiB as
 * for 12 bytes (one call per claim was a tenth of a single-job claim's cost), so the pool is
 * filled POOL_TOKENS at a time and a byte is never handed out twice.
 */
const TOKEN_BYTES = 12;
const TOKEN_CHARS = 16;
const POOL_TOKENS = 256;
let pool = Buffer.alloc(0);
let poolOffset = 0;

function leaseTokens(count: number): string {
  if (count === 0) return "";
  const bytes = TOKEN_BYTES * count;
  if (bytes > TOKEN_BYTES * POOL_TOKENS) return randomBytes(bytes).toString("base64url");
  if (poolOffset + bytes > pool.length) {
    pool = randomBytes(TOKEN_BYTES * POOL_TOKENS);
    poolOffset = 0;
  }
  const text = pool.toString("base64url", poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return text;
}
