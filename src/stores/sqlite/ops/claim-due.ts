import type { JobRecord } from "../../../core/job.js";
import { newLeaseToken } from "../../../core/token.js";
import type { ClaimOptions, ClaimResult } from "../../store.js";
import type { SqliteContext } from "../context.js";
import { JOB_COLUMNS, type JobRow, toRecord } from "../rows.js";

/**
 * claimDue: hands out up to `limit` due jobs under fresh leases, in one IMMEDIATE transaction.
 *
 * Mode: one range read of jobs_due — `(queue, due_at ≤ now)` in (due_at, id) order, which is
 * due-instant order with FIFO among equal instants — then one primary-key update per row. The
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
 */
const SELECT_DUE = `
  SELECT id, state, attempts, max_attempts FROM jobs
  WHERE queue = ? AND due_at IS NOT NULL AND due_at <= ?
  ORDER BY due_at, id
  LIMIT ?`;

const CLAIM = `
  UPDATE jobs SET state = 'active', attempts = attempts + 1, lease_token = ?, lease_expires_at = ?,
                  due_at = ?, updated_at = ?, run_at = min(run_at, ?)
  WHERE id = ?
  RETURNING ${JOB_COLUMNS}`;

const RECLAIM_EXPIRED = `
  UPDATE jobs SET errors = json_insert(errors, '$[#]', json_object('attempt', attempts, 'at', ?, 'message', 'lease expired')),
                  attempts = attempts + 1, lease_token = ?, lease_expires_at = ?, due_at = ?, updated_at = ?
  WHERE id = ?
  RETURNING ${JOB_COLUMNS}`;

const EXPIRE_TO_DEAD = `
  UPDATE jobs SET errors = json_insert(errors, '$[#]', json_object('attempt', attempts, 'at', ?, 'message', 'lease expired')),
                  state = 'dead', lease_token = NULL, lease_expires_at = NULL, due_at = NULL, updated_at = ?
  WHERE id = ?`;

export const SELECT_NEXT_DUE = `
  SELECT due_at FROM jobs WHERE queue = ? AND due_at IS NOT NULL ORDER BY due_at, id LIMIT 1`;

interface DueRow {
  id: number;
  state: string;
  attempts: number;
  max_attempts: number;
}

/** Runs inside a write transaction. */
export function claimDue(
  ctx: SqliteContext,
  queue: string,
  { limit, leaseMs }: ClaimOptions,
  now: number,
): ClaimResult {
  const jobs: JobRecord[] = [];
  const leaseExpiresAt = now + leaseMs;
  const selectDue = ctx.statement<DueRow>(SELECT_DUE);
  const claim = ctx.statement<JobRow>(CLAIM);
  while (jobs.length < limit) {
    const wanted = limit - jobs.length;
    const due = selectDue.all(queue, now, wanted);
    for (const row of due) {
      let claimed: JobRow;
      if (row.state === "active") {
        if (row.attempts >= row.max_attempts) {
          ctx.statement(EXPIRE_TO_DEAD).run(now, now, row.id);
          continue;
        }
        claimed = ctx
          .statement<JobRow>(RECLAIM_EXPIRED)
          .get(now, newLeaseToken(), leaseExpiresAt, leaseExpiresAt, now, row.id)!;
      } else {
        claimed = claim.get(newLeaseToken(), leaseExpiresAt, leaseExpiresAt, now, now, row.id)!;
      }
      jobs.push(toRecord(claimed));
    }
    if (due.length < wanted) break;
  }
  const next = ctx.statement<{ due_at: number }>(SELECT_NEXT_DUE).get(queue);
  return { jobs, nextDueAt: next?.due_at ?? null, now };
}
