import type { Selection, When } from "../../store.js";
import { type PgContext, run, type SchemaSql } from "../context.js";
import { whenColumns } from "./add-jobs.js";
import { groupsRescheduled } from "./group-changes.js";
import { selectedRows, selectionParams } from "./selection.js";

/**
 * redrive: dead jobs back to scheduled, their attempts reset and their error history kept (it
 * tells the person who redrove them what went wrong before).
 *
 * Mode: one statement: lock the selected dead rows, keep those whose key is free, move them.
 * A dead job's key may meanwhile be held by another unfinished job (the producer added it
 * again); such a job stays dead rather than breaking key uniqueness. Two dead jobs with one key:
 * the oldest takes it (DISTINCT ON). A producer adding that key at the very same moment makes the
 * unique index refuse the redrive with an error rather than ever holding two: redrive is a
 * person's action, and running it again settles it.
 *
 * The moved jobs are scheduled again, so the notify trigger wakes workers at commit. Grouped
 * ones wait in their groups again (due_at NULL), which count them in the same statement.
 */
const REDRIVE = ({ jobs, now, schema }: SchemaSql) => `
  WITH clock AS (SELECT ${now} AS now),
  selected AS (${selectedRows(jobs, "dead")}),
  movable AS (
    SELECT DISTINCT ON (coalesce(s.key, s.id::text)) s.id FROM selected s
    WHERE s.key IS NULL OR NOT EXISTS (
      SELECT 1 FROM ${jobs} h WHERE h.queue = $1 AND h.key = s.key AND h.state IN ('scheduled', 'active'))
    ORDER BY coalesce(s.key, s.id::text), s.id
  ),
  moved AS (
    UPDATE ${jobs} j SET state = 'scheduled', attempts = 0,
      run_at = coalesce($4::bigint, clock.now + $5::bigint),
      due_at = CASE WHEN j.group_name IS NULL THEN coalesce($4::bigint, clock.now + $5::bigint) END,
      lease_token = NULL, lease_expires_at = NULL, updated_at = clock.now
    FROM movable, clock
    WHERE j.id = movable.id
    RETURNING j.id, j.queue, j.group_name, j.run_at
  ),
  ${groupsRescheduled(schema, "moved")}
  SELECT count(*)::integer AS moved, (SELECT count(*) FROM touched) AS groups_touched FROM moved`;

export async function redrive(ctx: PgContext, queue: string, selection: Selection, when: When): Promise<number> {
  const rows = await run<{ moved: number }>(ctx.db, ctx.sql, REDRIVE, [
    queue,
    ...selectionParams(selection),
    ...whenColumns(when),
  ]);
  return rows[0]!.moved;
}
