import { LeaseLostError } from "../../../core/errors.js";
import type { JobRecord } from "../../../core/job.js";
import type { Failure } from "../../store.js";
import type { SqliteContext } from "../context.js";
import { JOB_COLUMNS, type JobRow, parseId, toRecord } from "../rows.js";

/**
 * fail: records a failed attempt for the lease holder — back to scheduled after
 * `retryDelayMs`, or dead when it is null (the worker decided, from the job's back-off and
 * attempts, that this was the last one).
 *
 * Mode: one conditional update (id, active, token), RETURNING the row; no row means a stale
 * token and nothing written. The error is appended with json_insert so the history is never
 * parsed and re-serialized in JavaScript. A retry becomes due again through due_at and wakes
 * sleeping workers once committed.
 */
const RETRY = `
  UPDATE jobs SET errors = json_insert(errors, '$[#]', json_object('attempt', attempts, 'at', ?, 'message', ?)),
                  state = 'scheduled', run_at = ?, due_at = ?, lease_token = NULL, lease_expires_at = NULL,
                  updated_at = ?
  WHERE id = ? AND queue = ? AND state = 'active' AND lease_token = ?
  RETURNING ${JOB_COLUMNS}`;

const BURY = `
  UPDATE jobs SET errors = json_insert(errors, '$[#]', json_object('attempt', attempts, 'at', ?, 'message', ?)),
                  state = 'dead', lease_token = NULL, lease_expires_at = NULL, due_at = NULL, updated_at = ?
  WHERE id = ? AND queue = ? AND state = 'active' AND lease_token = ?
  RETURNING ${JOB_COLUMNS}`;

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
  let row: JobRow | undefined;
  if (rowid !== null) {
    if (retryDelayMs === null) {
      row = ctx.statement<JobRow>(BURY).get(now, error, now, rowid, queue, leaseToken);
    } else {
      const runAt = now + retryDelayMs;
      row = ctx.statement<JobRow>(RETRY).get(now, error, runAt, runAt, now, rowid, queue, leaseToken);
      if (row) ctx.wake(queue, runAt);
    }
  }
  if (!row) throw new LeaseLostError(id);
  return toRecord(row);
}
