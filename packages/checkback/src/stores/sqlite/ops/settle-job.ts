import { isUnfinished, type JobRef } from "../../../core/job.js";
import type { ChangeOutcome, Completion } from "../../store.js";
import type { SqliteContext } from "../context.js";
import { JOB_COLUMNS, type JobRow, toRecord } from "../rows.js";
import { addJobs } from "./add-jobs.js";
import { findByRef } from "./get-job.js";
import { changeGroup } from "./groups.js";

/**
 * settle: completes an unfinished job from outside, without a lease — a check resolved by the
 * other party's notification rather than by its own probe.
 *
 * Mode: find (by id or key) and complete in one write transaction. Whichever of settle and the
 * lease holder's complete commits first wins: a holder arriving later finds its token cleared
 * and gets LeaseLostError; a settle arriving later finds the job finished and reports
 * `changed: false`. Follow-ups are added in the same transaction, exactly as for complete.
 * A grouped job's group is recounted and recomputed (ops/groups.ts): settling an active one
 * frees a place, which may make the group ready and wake workers.
 */
const SETTLE = `
  UPDATE jobs SET state = 'completed', result = ?, lease_token = NULL, lease_expires_at = NULL,
                  due_at = NULL, updated_at = ?
  WHERE id = ?
  RETURNING ${JOB_COLUMNS}`;

/** Runs inside a write transaction. */
export function settleJob(
  ctx: SqliteContext,
  queue: string,
  ref: JobRef,
  { result, enqueue }: Completion,
  now: number,
): ChangeOutcome {
  const row = findByRef(ctx, queue, ref);
  if (!row) return { job: null, changed: false };
  if (!isUnfinished(row.state)) return { job: toRecord(row), changed: false };
  const settled = ctx.statement<JobRow>(SETTLE).get(result, now, row.id)!;
  if (row.group_name !== null) {
    changeGroup(ctx, queue, row.group_name, now, row.state === "active" ? { active: -1 } : { scheduled: -1 });
  }
  if (enqueue && enqueue.length > 0) addJobs(ctx, enqueue, now);
  return { job: toRecord(settled), changed: true };
}
