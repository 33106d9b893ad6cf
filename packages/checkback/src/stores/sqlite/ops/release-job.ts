import { LeaseLostError } from "../../../core/errors.js";
import type { Release } from "../../store.js";
import type { SqliteContext } from "../context.js";
import { parseId } from "../rows.js";

/**
 * release: the lease holder gives the job back without spending the attempt — the handler
 * asked to run later, or its worker is shutting down. Back to scheduled after `delayMs`, with
 * a new payload if given (a check keeps its probe history in its payload).
 *
 * Mode: one conditional update on (id, active, token); a stale token writes nothing and
 * throws LeaseLostError. The attempt counted at claim time is taken back here.
 */
const RELEASE = `
  UPDATE jobs SET state = 'scheduled', attempts = attempts - 1, payload = coalesce(?, payload),
                  run_at = ?, due_at = ?, lease_token = NULL, lease_expires_at = NULL, updated_at = ?
  WHERE id = ? AND queue = ? AND state = 'active' AND lease_token = ?`;

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
  const { changes } =
    rowid === null
      ? { changes: 0 }
      : ctx.statement(RELEASE).run(payload ?? null, runAt, runAt, now, rowid, queue, leaseToken);
  if (changes === 0) throw new LeaseLostError(id);
  ctx.wake(queue, runAt);
}
