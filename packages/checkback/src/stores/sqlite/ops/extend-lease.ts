import { LeaseLostError } from "../../../core/errors.js";
import type { SqliteContext } from "../context.js";
import { parseId } from "../rows.js";

/**
 * extendLease: the heartbeat. One conditional update: it applies only while the row is active
 * under this very token, so a worker whose lease already ran out and was claimed again cannot
 * take the job back. Moving due_at along with the lease keeps the job out of claims.
 *
 * A single statement is atomic on its own; it still runs in the store's write transaction so
 * that every write takes the lock the same way.
 */
const EXTEND = `
  UPDATE jobs SET lease_expires_at = ?, due_at = ?, updated_at = ?
  WHERE id = ? AND queue = ? AND state = 'active' AND lease_token = ?`;

/** Runs inside a write transaction. Returns the new lease expiry. */
export function extendLease(
  ctx: SqliteContext,
  queue: string,
  id: string,
  leaseToken: string,
  leaseMs: number,
  now: number,
): number {
  const leaseExpiresAt = now + leaseMs;
  const rowid = parseId(id);
  const { changes } =
    rowid === null
      ? { changes: 0 }
      : ctx.statement(EXTEND).run(leaseExpiresAt, leaseExpiresAt, now, rowid, queue, leaseToken);
  if (changes === 0) throw new LeaseLostError(id);
  return leaseExpiresAt;
}
