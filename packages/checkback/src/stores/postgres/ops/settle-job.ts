import type { JobRef } from "../../../core/job.js";
import type { ChangeOutcome, Completion } from "../../store.js";
import { type PgContext, type SchemaSql, within } from "../context.js";
import { jobColumns } from "../rows.js";
import { addJobs } from "./add-jobs.js";
import { groupsEnded } from "./group-changes.js";
import { BY_ID, BY_KEY, changeJob } from "./targeted-change.js";

/**
 * settle: completes an unfinished job from outside, without a lease — a check resolved by the
 * other party's notification rather than by its own probe.
 *
 * Mode: one conditional UPDATE (see targeted-change.ts). Whichever of settle and the lease
 * holder's complete commits first wins: PostgreSQL re-checks the state condition of the later
 * one on the row's new version, so a holder arriving later matches no row and gets
 * LeaseLostError, a settle arriving later reports `changed: false`. The state the job had (read
 * and locked by `prior`) tells its group which count to lower, in the same statement.
 *
 * With follow-up jobs the update and the inserts run in one transaction (a few round trips
 * instead of one), so the outcome jobs exist if and only if this settle won.
 */
const settle = (where: string) => (sql: SchemaSql) =>
  `
  WITH prior AS (SELECT id, state FROM ${sql.jobs} WHERE ${where} AND state IN ('scheduled', 'active') FOR UPDATE),
  changed AS (
    UPDATE ${sql.jobs} j SET state = 'completed', result = $3, lease_token = NULL, lease_expires_at = NULL,
                           due_at = NULL, updated_at = ${sql.now}
    FROM prior p WHERE j.id = p.id
    RETURNING ${jobColumns("j")}, p.state AS prior_state
  ),
  ${groupsEnded(sql.schema, "changed")}
  SELECT *, (SELECT count(*) FROM touched) AS groups_touched FROM changed`;

const SETTLE = { byId: settle(BY_ID), byKey: settle(BY_KEY) };

export async function settleJob(
  ctx: PgContext,
  queue: string,
  ref: JobRef,
  { result, enqueue }: Completion,
): Promise<ChangeOutcome> {
  if (!enqueue || enqueue.length === 0) {
    return (await changeJob(ctx.db, ctx.sql, queue, ref, SETTLE, [result])).outcome;
  }
  return ctx.transaction(async (db) => {
    const { outcome } = await changeJob(db, ctx.sql, queue, ref, SETTLE, [result]);
    if (outcome.changed) await addJobs(within(ctx, db), enqueue);
    return outcome;
  });
}
