import type { JobRef } from "../../../core/job.js";
import type { ChangeOutcome } from "../../store.js";
import type { PgContext, SchemaSql } from "../context.js";
import { JOB_COLUMNS } from "../rows.js";
import { BY_ID, BY_KEY, changeJob } from "./targeted-change.js";

/**
 * cancel: scheduled or active → cancelled, by id or by key (see targeted-change.ts for the
 * mode: one conditional UPDATE, a read only when nothing changed).
 *
 * Cancelling an active job clears its lease token, so the worker running it gets LeaseLostError
 * when it tries to complete or fail it: a cancelled job's outcome is never recorded. Dropping
 * due_at takes it out of claims and frees its key.
 */
const cancel = (where: string) => (sql: SchemaSql) =>
  `
  UPDATE ${sql.jobs} SET state = 'cancelled', lease_token = NULL, lease_expires_at = NULL, due_at = NULL,
                       updated_at = ${sql.now}
  WHERE ${where} AND state IN ('scheduled', 'active')
  RETURNING ${JOB_COLUMNS}`;

const CANCEL = { byId: cancel(BY_ID), byKey: cancel(BY_KEY) };

export async function cancelJob(ctx: PgContext, queue: string, ref: JobRef): Promise<ChangeOutcome> {
  return (await changeJob(ctx.db, ctx.sql, queue, ref, CANCEL, [])).outcome;
}
