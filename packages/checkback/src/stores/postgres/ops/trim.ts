import type { Retention } from "../../store.js";
import { type PgContext, run, type SchemaSql } from "../context.js";

/**
 * trim: retention of completed and cancelled jobs — keep the newest `keepLast` (by finish
 * instant, id breaking ties) and nothing older than `maxAgeMs`. Dead jobs are never trimmed:
 * they wait for a person.
 *
 * Mode: workers call this about once a second, so it must cost in proportion to what it
 * deletes, not to the queue's size. jobs_retention indexes exactly the trimmable rows by
 * (queue, updated_at, id): the keepLast boundary is found by stepping `keepLast` entries down
 * from the newest, and both deletes are range deletes below a bound on that index. Both are
 * CTEs of one statement; a row both would delete is deleted (and counted) once. The boundary is
 * MATERIALIZED: inlined, the planner may re-run its walk of `keepLast` entries once per row it
 * deletes (seconds per trim on a queue of a few thousand finished jobs).
 *
 * The same statement sweeps idle group rows (group-schema.ts): a group with no job left keeps
 * its row only while its bucket refills or a pause runs; up to 100 such rows, oldest charge
 * first, are deleted once the bucket is full and the pause over. Rows being changed are skipped
 * (SKIP LOCKED), never waited for. For a queue without such rows it is one seek into an empty
 * partial index.
 */
const TRIM = ({ jobs, now, schema }: SchemaSql) => `
  WITH clock AS (SELECT ${now} AS now),
  boundary AS MATERIALIZED (
    SELECT updated_at, id FROM ${jobs}
    WHERE queue = $1 AND state IN ('completed', 'cancelled') AND $2::integer IS NOT NULL
    ORDER BY updated_at DESC, id DESC
    OFFSET $2::integer LIMIT 1
  ),
  beyond AS (
    DELETE FROM ${jobs} j USING boundary b
    WHERE j.queue = $1 AND j.state IN ('completed', 'cancelled') AND (j.updated_at, j.id) <= (b.updated_at, b.id)
    RETURNING j.id
  ),
  aged AS (
    DELETE FROM ${jobs} j USING clock
    WHERE $3::bigint IS NOT NULL AND j.queue = $1 AND j.state IN ('completed', 'cancelled')
      AND j.updated_at < clock.now - $3::bigint
    RETURNING j.id
  ),
  idle AS (
    DELETE FROM ${schema}.job_groups g
    USING (SELECT i.group_name FROM ${schema}.job_groups i
           WHERE i.queue = $1 AND i.active = 0 AND i.scheduled = 0 AND NOT i.own_limits
           ORDER BY i.refilled_at LIMIT 100 FOR UPDATE SKIP LOCKED) idle_rows
      CROSS JOIN clock
    WHERE g.queue = $1 AND g.group_name = idle_rows.group_name
      AND (g.paused_until IS NULL OR g.paused_until <= clock.now)
      AND (g.tokens IS NULL OR g.bucket_rate IS NULL
           OR ${schema}.bucket_refill(g.tokens, g.refilled_at, g.bucket_rate, g.bucket_per_ms, clock.now) >= g.bucket_rate)
    RETURNING g.group_name
  )
  SELECT (SELECT count(*) FROM (SELECT id FROM beyond UNION SELECT id FROM aged) removed)::integer AS removed`;

export async function trim(ctx: PgContext, queue: string, { keepLast, maxAgeMs }: Retention): Promise<number> {
  const rows = await run<{ removed: number }>(ctx.db, ctx.sql, TRIM, [queue, keepLast ?? null, maxAgeMs ?? null]);
  return rows[0]!.removed;
}
