import { LeaseLostError } from "../../../core/errors.js";
import type { JobRecord } from "../../../core/job.js";
import type { Failure } from "../../store.js";
import type { SqliteContext } from "../context.js";
import { JOB_COLUMNS, type JobRow, parseId, toRecord } from "../rows.js";
import { changeGroup } from "./groups.js";

/**
 * fail: records a failed attempt for the lease holder — back to scheduled after
 * `retryDelayMs`, or dead when it is null (the worker decided, from the job's back-off and
 * attempts, that this was the last one).
 *
 * Mode: one conditional update (id, active, token), RETURNING the row; no row means a stale
 * token and nothing written. The error is appended with json_insert so the history is never
 * parsed and re-serialized in JavaScript. A retry becomes due again through due_at and wakes
 * sleeping workers once committed.
 *
 * A grouped job (as in complete-job.ts: the ungrouped update first, the grouped one in a
 * savepoint when that changed nothing) goes back to wait in its group (due_at NULL) or dead,
 * and its group is recounted and recomputed (ops/groups.ts).
 */
const retry = (grouped: boolean) => `
  UPDATE jobs SET errors = json_insert(errors, '$[#]', json_object('attempt', attempts, 'at', ?, 'message', ?)),
                  state = 'scheduled', run_at = ?, due_at = ${grouped ? "NULL" : "?"}, lease_token = NULL,
                  lease_expires_at = NULL, updated_at = ?
  WHERE id = ? AND queue = ? AND state = 'active' AND lease_token = ? AND group_name IS ${grouped ? "NOT NULL" : "NULL"}
  RETURNING ${JOB_COLUMNS}`;

const bury = (grouped: boolean) => `
  UPDATE jobs SET errors = json_insert(errors, '$[#]', json_object('attempt', attempts, 'at', ?, 'message', ?)),
                  state = 'dead', lease_token = NULL, lease_expires_at = NULL, due_at = NULL, updated_at = ?
  WHERE id = ? AND queue = ? AND state = 'active' AND lease_token = ? AND group_name IS ${grouped ? "NOT NULL" : "NULL"}
  RETURNING ${JOB_COLUMNS}`;

const RETRY = retry(false);
const RETRY_GROUPED = retry(true);
const BURY = bury(false);
const BURY_GROUPED = bury(true);

/** Runs inside a write transaction. */
export function failJob(
  ctx: SqliteContext,
  queue: string,
  id: string,
  leaseToken: string,
  { error, retryDelayMs }: Failure,
  now: number,
): JobRecord {
  const rowid = parseId(id);
  if (rowid === null) throw new LeaseLostError(id);
  let row: JobRow | undefined;
  if (retryDelayMs === null) {
    row = ctx.statement<JobRow>(BURY).get(now, error, now, rowid, queue, leaseToken);
    row ??= ctx.atomic(() => {
      const buried = ctx.statement<JobRow>(BURY_GROUPED).get(now, error, now, rowid, queue, leaseToken);
      if (buried) changeGroup(ctx, queue, buried.group_name!, now, { active: -1 });
      return buried;
    });
  } else {
    const runAt = now + retryDelayMs;
    row = ctx.statement<JobRow>(RETRY).get(now, error, runAt, runAt, now, rowid, queue, leaseToken);
    if (row) ctx.wake(queue, runAt);
    row ??= ctx.atomic(() => {
      const retried = ctx.statement<JobRow>(RETRY_GROUPED).get(now, error, runAt, now, rowid, queue, leaseToken);
      if (retried) changeGroup(ctx, queue, retried.group_name!, now, { active: -1, scheduled: 1 });
      return retried;
    });
  }
  if (!row) throw new LeaseLostError(id);
  return toRecord(row);
}
