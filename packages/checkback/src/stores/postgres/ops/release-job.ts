import { LeaseLostError } from "../../../core/errors.js";
import type { Release } from "../../store.js";
import { type PgContext, run, type SchemaSql } from "../context.js";
import { parseId } from "../rows.js";
import { groupsLeftActive } from "./group-changes.js";

/**
 * release: the lease holder gives the job back without spending the attempt — the handler
 * asked to run later, or its worker is shutting down. Back to scheduled after `delayMs`, with
 * a new payload if given (a check keeps its probe history in its payload).
 *
 * Mode: one conditional UPDATE on (id, active, token); a stale token writes nothing and throws
 * LeaseLostError. The attempt counted at claim time is taken back here. The notify trigger
 * announces the new due instant at commit. A grouped job goes back to wait in its group
 * (due_at NULL), which gets its place back in the same statement (ops/group-changes.ts).
 */
const RELEASE = ({ jobs, now, schema }: SchemaSql) => `
  WITH clock AS (SELECT ${now} AS now),
  changed AS (
    UPDATE ${jobs} SET state = 'scheduled', attempts = attempts - 1, payload = coalesce($4, payload),
                     run_at = clock.now + $5::bigint,
                     due_at = CASE WHEN group_name IS NULL THEN clock.now + $5::bigint END,
                     lease_token = NULL, lease_expires_at = NULL, updated_at = clock.now
    FROM clock
    WHERE id = $1::bigint AND queue = $2 AND state = 'active' AND lease_token = $3
    RETURNING id, queue, group_name, state, run_at
  ),
  ${groupsLeftActive(schema, "changed")}
  SELECT id, (SELECT count(*) FROM touched) AS groups_touched FROM changed`;

export async function releaseJob(
  ctx: PgContext,
  queue: string,
  id: string,
  leaseToken: string,
  { delayMs, payload }: Release,
): Promise<void> {
  const rowid = parseId(id);
  const rows =
    rowid === null ? [] : await run(ctx.db, ctx.sql, RELEASE, [rowid, queue, leaseToken, payload ?? null, delayMs]);
  if (rows.length === 0) throw new LeaseLostError(id);
}
