import { LeaseLostError } from "../../../core/errors.js";
import { type PgContext, run, type SchemaSql } from "../context.js";
import { parseId } from "../rows.js";

/**
 * extendLease: the heartbeat. One conditional UPDATE: it applies only while the row is active
 * under this very token, so a worker whose lease already ran out and was claimed again cannot
 * take the job back. Moving due_at along with the lease keeps the job out of claims. The new
 * expiry is computed on the server's clock and returned.
 */
const EXTEND = ({ jobs, now }: SchemaSql) => `
  WITH clock AS (SELECT ${now} AS now)
  UPDATE ${jobs} SET lease_expires_at = clock.now + $4::bigint, due_at = clock.now + $4::bigint, updated_at = clock.now
  FROM clock
  WHERE id = $1::bigint AND queue = $2 AND state = 'active' AND lease_token = $3
  RETURNING lease_expires_at`;

export async function extendLease(
  ctx: PgContext,
  queue: string,
  id: string,
  leaseToken: string,
  leaseMs: number,
): Promise<number> {
  const rowid = parseId(id);
  const rows =
    rowid === null
      ? []
      : await run<{ lease_expires_at: string }>(ctx.db, ctx.sql, EXTEND, [rowid, queue, leaseToken, leaseMs]);
  if (rows.length === 0) throw new LeaseLostError(id);
  return Number(rows[0]!.lease_expires_at);
}
