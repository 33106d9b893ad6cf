import { isUnfinished, type JobRef } from "../../../core/job.js";
import type { ChangeOutcome } from "../../store.js";
import type { SqliteContext } from "../context.js";
import { JOB_COLUMNS, type JobRow, toRecord } from "../rows.js";
import { findByRef } from "./get-job.js";
import { changeGroup } from "./groups.js";

/**
 * cancel: scheduled or active → cancelled, by id or by key.
 *
 * Mode: find and update in one write transaction. Cancelling an active job clears its lease
 * token, so the worker running it gets LeaseLostError when it tries to complete or fail it:
 * a cancelled job's outcome is never recorded. A finished job is reported unchanged.
 * By-key lookups use the (queue, key) indexes, so both forms are O(log n). A grouped job's
 * group is recounted and recomputed in a savepoint with the update (ops/groups.ts): cancelling
 * an active one frees a place, a scheduled one may have been the group's head.
 */
const CANCEL = `
  UPDATE jobs SET state = 'cancelled', lease_token = NULL, lease_expires_at = NULL, due_at = NULL, updated_at = ?
  WHERE id = ?
  RETURNING ${JOB_COLUMNS}`;

/** Runs inside a write transaction. */
export function cancelJob(ctx: SqliteContext, queue: string, ref: JobRef, now: number): ChangeOutcome {
  const row = findByRef(ctx, queue, ref);
  if (!row) return { job: null, changed: false };
  if (!isUnfinished(row.state)) return { job: toRecord(row), changed: false };
  const group = row.group_name;
  if (group === null) return { job: toRecord(ctx.statement<JobRow>(CANCEL).get(now, row.id)!), changed: true };
  const cancelled = ctx.atomic(() => {
    const done = ctx.statement<JobRow>(CANCEL).get(now, row.id)!;
    changeGroup(ctx, queue, group, now, row.state === "active" ? { active: -1 } : { scheduled: -1 });
    return done;
  });
  return { job: toRecord(cancelled), changed: true };
}
