import type { JobState } from "../../../core/job.js";
import type { Selection } from "../../store.js";
import type { SqliteContext } from "../context.js";
import { parseId } from "../rows.js";

/**
 * The rows an admin operation (redrive, purge) touches: the listed ids that are in `state`,
 * each once, or the oldest `limit` jobs in `state` (all of them without a limit), through
 * jobs_state. Runs inside the operation's transaction so the selection cannot go stale.
 */
const SELECT_ONE = "SELECT id, key, group_name FROM jobs WHERE id = ? AND queue = ? AND state = ?";
const SELECT_OLDEST = "SELECT id, key, group_name FROM jobs WHERE queue = ? AND state = ? ORDER BY id LIMIT ?";

export interface SelectedRow {
  id: number;
  key: string | null;
  group_name: string | null;
}

export function selectRows(ctx: SqliteContext, queue: string, state: JobState, selection: Selection): SelectedRow[] {
  if ("ids" in selection) {
    const rows: SelectedRow[] = [];
    const seen = new Set<number>();
    const selectOne = ctx.statement<SelectedRow>(SELECT_ONE);
    for (const id of selection.ids) {
      const rowid = parseId(id);
      if (rowid === null || seen.has(rowid)) continue;
      seen.add(rowid);
      const row = selectOne.get(rowid, queue, state);
      if (row) rows.push(row);
    }
    return rows;
  }
  return ctx.statement<SelectedRow>(SELECT_OLDEST).all(queue, state, selection.limit ?? -1);
}
