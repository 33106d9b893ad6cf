import { LeaseLostError } from "../../../core/errors.js";
import type { Completion } from "../../store.js";
import type { SqliteContext } from "../context.js";
import { parseId } from "../rows.js";
import { addJobs } from "./add-jobs.js";
import { changeGroup } from "./groups.js";

/**
 * complete: active → completed for the lease holder, plus the completion's follow-up jobs.
 *
 * Mode: a conditional update on (id, state active, lease token); no row changed means the
 * token is stale (lease expired and claimed elsewhere, or the job was cancelled or settled)
 * and nothing is written. The follow-ups are added in the same transaction, so they exist if
 * and only if this completion committed — a check's outcome can never be delivered twice by
 * two racing completions, nor lost between the completion and the enqueue.
 *
 * Dropping due_at to NULL takes the job out of jobs_due; the key is freed because the unique
 * index only covers scheduled/active rows.
 *
 * The update first applies only to an ungrouped job, the one statement it always was. When it
 * changes nothing, the job may be grouped: the same update for a grouped job then runs in a
 * savepoint with its group's recount (ops/groups.ts: a place frees, which may make the group
 * ready and wake workers). A stale token changes nothing either way.
 */
const COMPLETE = `
  UPDATE jobs SET state = 'completed', result = ?, lease_token = NULL, lease_expires_at = NULL,
                  due_at = NULL, updated_at = ?
  WHERE id = ? AND queue = ? AND state = 'active' AND lease_token = ? AND group_name IS NULL`;

const COMPLETE_GROUPED = `
  UPDATE jobs SET state = 'completed', result = ?, lease_token = NULL, lease_expires_at = NULL,
                  due_at = NULL, updated_at = ?
  WHERE id = ? AND queue = ? AND state = 'active' AND lease_token = ? AND group_name IS NOT NULL
  RETURNING group_name`;

/** Runs inside a write transaction. */
export function completeJob(
  ctx: SqliteContext,
  queue: string,
  id: string,
  leaseToken: string,
  { result, enqueue }: Completion,
  now: number,
): void {
  const rowid = parseId(id);
  if (rowid === null) throw new LeaseLostError(id);
  if (ctx.statement(COMPLETE).run(result, now, rowid, queue, leaseToken).changes === 0) {
    const completed = ctx.atomic(() => {
      const row = ctx.statement<{ group_name: string }>(COMPLETE_GROUPED).get(result, now, rowid, queue, leaseToken);
      if (row) changeGroup(ctx, queue, row.group_name, now, { active: -1 });
      return row !== undefined;
    });
    if (!completed) throw new LeaseLostError(id);
  }
  if (enqueue && enqueue.length > 0) addJobs(ctx, enqueue, now);
}
