import { LeaseLostError } from "../../../core/errors.js";
import type { Completion } from "../../store.js";
import { type PgContext, type Queryable, run, type SchemaSql, within } from "../context.js";
import { parseId } from "../rows.js";
import { addJobs } from "./add-jobs.js";
import { groupsFinished } from "./group-changes.js";

/**
 * complete: active → completed for the lease holder, plus the completion's follow-up jobs.
 *
 * Mode: a conditional UPDATE on (id, queue, state active, lease token) — the hot path of every
 * worker. On the store's pool, the completions of one event-loop turn share one such statement
 * and one commit (completion-batch.ts); in a transactional view it runs alone. No row changed means the token is stale (the lease expired and the job
 * was claimed elsewhere, or it was cancelled or settled) and nothing is written. Dropping due_at
 * takes the job out of jobs_due; the key is freed because the unique index only covers
 * scheduled/active rows.
 *
 * With follow-up jobs (a check's outcome) the update and the inserts run in one transaction,
 * so the follow-ups exist if and only if this completion committed: never delivered twice by
 * two racing completions, never lost between the completion and the enqueue. That costs a few
 * round trips more, and happens once per check, not once per job.
 *
 * A grouped job's group gets its place back in the same statement (ops/group-changes.ts).
 */
const COMPLETE = ({ jobs, now, schema }: SchemaSql) => `
  WITH done AS (
    UPDATE ${jobs} SET state = 'completed', result = $4, lease_token = NULL, lease_expires_at = NULL,
                     due_at = NULL, updated_at = ${now}
    WHERE id = $1::bigint AND queue = $2 AND state = 'active' AND lease_token = $3
    RETURNING id, queue, group_name
  ),
  ${groupsFinished(schema, "done")}
  SELECT id, (SELECT count(*) FROM touched) AS groups_touched FROM done`;

export async function completeJob(
  ctx: PgContext,
  queue: string,
  id: string,
  leaseToken: string,
  { result, enqueue }: Completion,
): Promise<void> {
  if (!enqueue || enqueue.length === 0) {
    if (ctx.completions) return ctx.completions.complete(queue, id, leaseToken, result);
    return markCompleted(ctx.db, ctx.sql, queue, id, leaseToken, result);
  }
  await ctx.transaction(async (db) => {
    await markCompleted(db, ctx.sql, queue, id, leaseToken, result);
    await addJobs(within(ctx, db), enqueue);
  });
}

async function markCompleted(
  db: Queryable,
  sql: SchemaSql,
  queue: string,
  id: string,
  leaseToken: string,
  result: string | null,
): Promise<void> {
  const rowid = parseId(id);
  const rows = rowid === null ? [] : await run(db, sql, COMPLETE, [rowid, queue, leaseToken, result]);
  if (rows.length === 0) throw new LeaseLostError(id);
}
