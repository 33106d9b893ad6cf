import type { FinishedState, Selection } from "../../store.js";
import { type PgContext, run, type SchemaSql } from "../context.js";
import { selectedRows, selectionParams } from "./selection.js";

/**
 * purge: deletes finished jobs of one state (dead letters a person has dealt with, or old
 * completed/cancelled history).
 *
 * Mode: one DELETE of the selected rows. Unfinished jobs are never selected (the state is one of
 * the finished three), so a purge cannot pull a job from under a worker. Ids come from a
 * bigserial: a purged id is never handed to a new job.
 */
const purgeSql = (state: FinishedState) => (sql: SchemaSql) =>
  `
  WITH selected AS (${selectedRows(sql.jobs, state)}),
  removed AS (DELETE FROM ${sql.jobs} j USING selected WHERE j.id = selected.id RETURNING j.id)
  SELECT count(*)::integer AS removed FROM removed`;

const PURGE: Partial<Record<string, (sql: SchemaSql) => string>> = {
  dead: purgeSql("dead"),
  completed: purgeSql("completed"),
  cancelled: purgeSql("cancelled"),
};

export async function purge(
  ctx: PgContext,
  queue: string,
  state: FinishedState,
  selection: Selection,
): Promise<number> {
  const statement = PURGE[state];
  if (!statement) return 0; // not a finished state: nothing to purge
  const rows = await run<{ removed: number }>(ctx.db, ctx.sql, statement, [queue, ...selectionParams(selection)]);
  return rows[0]!.removed;
}
