import type { JobRef } from "../../../core/job.js";
import type { ChangeOutcome } from "../../store.js";
import type { PgContext, SchemaSql } from "../context.js";
import { jobColumns } from "../rows.js";
import { groupsEnded } from "./group-changes.js";
import { BY_ID, BY_KEY, changeJob } from "./targeted-change.js";

/**
 * cancel: scheduled or active → cancelled, by id or by key (see targeted-change.ts for the
 * mode: one conditional UPDATE, a read only when nothing changed).
 *
 * Cancelling an active job clears its lease token, so the worker running it gets LeaseLostError
 * when it tries to complete or fail it: a cancelled job's outcome is never recorded. Dropping
 * due_at takes it out of claims and frees its key.
 *
 * The state it had (read and locked by `prior`, on the row's newest version) tells its group
 * which count to lower, in the same statement (ops/group-changes.ts).
 */
const cancel = (where: string) => (sql: SchemaSql) =>
  `
  WITH prior AS (SELECT id, state FROM ${sql.jobs} WHERE ${where} AND state IN ('scheduled', 'active') FOR UPDATE),
  changed AS (
    UPDATE ${sql.jobs} j SET state = 'cancelled', lease_token = NULL, lease_expires_at = NULL, due_at = NULL,
                           updated_at = ${sql.now}
    FROM prior p WHERE j.id = p.id
    RETURNING ${jobColumns("j")}, p.state AS prior_state
  ),
  ${groupsEnded(sql.schema, "changed")}
  SELECT *, (SELECT count(*) FROM touched) AS groups_touched FROM changed`;

const CANCEL = { byId: cancel(BY_ID), byKey: cancel(BY_KEY) };

export async function cancelJob(ctx: PgContext, queue: string, ref: JobRef): Promise<ChangeOutcome> {
  return (await changeJob(ctx.db, ctx.sql, queue, ref, CANCEL, [])).outcome;
}
