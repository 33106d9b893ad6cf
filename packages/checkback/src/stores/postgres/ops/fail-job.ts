import { LeaseLostError } from "../../../core/errors.js";
import type { JobRecord } from "../../../core/job.js";
import type { Failure } from "../../store.js";
import { type PgContext, run, type SchemaSql } from "../context.js";
import { storeMessage } from "../error-message.js";
import { JOB_COLUMNS, type JobRow, parseId, toRecord } from "../rows.js";
import { groupsLeftActive } from "./group-changes.js";

/**
 * fail: records a failed attempt for the lease holder — back to scheduled after
 * `retryDelayMs`, or dead when it is null (the worker decided, from the job's back-off and
 * attempts, that this was the last one).
 *
 * Mode: one conditional UPDATE on (id, active, token) RETURNING the row; no row means a stale
 * token and nothing written. The error is appended with jsonb `||`, so the history is never
 * read back into JavaScript and rewritten; a message holding NUL is encoded (error-message.ts). The retry instant is taken on the server's clock in
 * the same statement. A retry leaves the job scheduled, so the notify trigger wakes sleeping
 * workers once it commits.
 *
 * A grouped job retried waits in its group again (due_at NULL); either way its group gets its
 * place back in the same statement (ops/group-changes.ts).
 */
const FAIL = ({ jobs, now, schema }: SchemaSql) => `
  WITH clock AS (SELECT ${now} AS now),
  changed AS (
  UPDATE ${jobs} SET
    errors = errors || jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
      'attempt', attempts, 'at', clock.now, 'message', $4::text, 'messageJson', $6::text))),
    state = CASE WHEN $5::bigint IS NULL THEN 'dead' ELSE 'scheduled' END,
    run_at = CASE WHEN $5::bigint IS NULL THEN run_at ELSE clock.now + $5::bigint END,
    due_at = CASE WHEN $5::bigint IS NULL OR group_name IS NOT NULL THEN NULL ELSE clock.now + $5::bigint END,
    lease_token = NULL, lease_expires_at = NULL, updated_at = clock.now
  FROM clock
  WHERE id = $1::bigint AND queue = $2 AND state = 'active' AND lease_token = $3
  RETURNING ${JOB_COLUMNS}
  ),
  ${groupsLeftActive(schema, "changed")}
  SELECT *, (SELECT count(*) FROM touched) AS groups_touched FROM changed`;

export async function failJob(
  ctx: PgContext,
  queue: string,
  id: string,
  leaseToken: string,
  { error, retryDelayMs }: Failure,
): Promise<JobRecord> {
  const rowid = parseId(id);
  const { message, messageJson } = storeMessage(error);
  const rows =
    rowid === null
      ? []
      : await run<JobRow>(ctx.db, ctx.sql, FAIL, [rowid, queue, leaseToken, message, retryDelayMs, messageJson]);
  if (rows.length === 0) throw new LeaseLostError(id);
  return toRecord(rows[0]!);
}
