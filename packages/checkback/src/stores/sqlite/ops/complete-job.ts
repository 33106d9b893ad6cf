import { LeaseLostError } from "../../../core/errors.js";
import type { Completion } from "../../store.js";
import type { SqliteContext } from "../context.js";
import { parseId } from "../rows.js";
import { addJobs } from "./add-jobs.js";

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
 */
const COMPLETE = `
  UPDATE jobs SET state = 'completed', result = ?, lease_token = NULL, lease_expires_at = NULL,
                  due_at = NULL, updated_at = ?
  WHERE id = ? AND queue = ? AND state = 'active' AND lease_token = ?`;

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
  const { changes } =
    rowid === null ? { changes: 0 } : ctx.statement(COMPLETE).run(result, now, rowid, queue, leaseToken);
  if (changes === 0) throw new LeaseLostError(id);
  if (enqueue && enqueue.length > 0) addJobs(ctx, enqueue, now);
}
