import { LeaseLostError } from "../../../core/errors.js";
import type { Release } from "../../store.js";
import type { SqliteContext } from "../context.js";
import { parseId } from "../rows.js";
import { changeGroup } from "./groups.js";

/**
 * release: the lease holder gives the job back without spending the attempt — the handler
 * asked to run later, or its worker is shutting down. Back to scheduled after `delayMs`, with
 * a new payload if given (a check keeps its probe history in its payload).
 *
 * Mode: one conditional update on (id, active, token); a stale token writes nothing and
 * throws LeaseLostError. The attempt counted at claim time is taken back here.
 *
 * A grouped job (as in complete-job.ts: the ungrouped update first, the grouped one in a
 * savepoint when that changed nothing) goes back to wait in its group (due_at NULL), and its
 * group is recounted and recomputed (ops/groups.ts). Release.pauseGroup is applied before this
 * by flow/slow-down.ts through pauseGroup, like pauseQueue.
 */
const RELEASE = `
  UPDATE jobs SET state = 'scheduled', attempts = attempts - 1, payload = coalesce(?, payload),
                  run_at = ?, due_at = ?, lease_token = NULL, lease_expires_at = NULL, updated_at = ?
  WHERE id = ? AND queue = ? AND state = 'active' AND lease_token = ? AND group_name IS NULL`;

const RELEASE_GROUPED = `
  UPDATE jobs SET state = 'scheduled', attempts = attempts - 1, payload = coalesce(?, payload),
                  run_at = ?, due_at = NULL, lease_token = NULL, lease_expires_at = NULL, updated_at = ?
  WHERE id = ? AND queue = ? AND state = 'active' AND lease_token = ? AND group_name IS NOT NULL
  RETURNING group_name`;

/** Runs inside a write transaction. */
export function releaseJob(
  ctx: SqliteContext,
  queue: string,
  id: string,
  leaseToken: string,
  { delayMs, payload }: Release,
  now: number,
): void {
  const runAt = now + delayMs;
  const rowid = parseId(id);
  if (rowid === null) throw new LeaseLostError(id);
  const text = payload ?? null;
  if (ctx.statement(RELEASE).run(text, runAt, runAt, now, rowid, queue, leaseToken).changes > 0) {
    ctx.wake(queue, runAt);
    return;
  }
  const released = ctx.atomic(() => {
    const row = ctx.statement<{ group_name: string }>(RELEASE_GROUPED).get(text, runAt, now, rowid, queue, leaseToken);
    if (row) changeGroup(ctx, queue, row.group_name, now, { active: -1, scheduled: 1 });
    return row !== undefined;
  });
  if (!released) throw new LeaseLostError(id);
}
