import type { Selection } from "../../store.js";
import { parseId } from "../rows.js";

/**
 * Parameters naming the jobs an admin operation (redrive, purge) touches, for the
 * `selected` CTE below: listed ids ($2, null for "all") and an optional limit ($3, null for no
 * limit; LIMIT NULL is no limit in PostgreSQL). Ids that are not ours are dropped here: they
 * name no job.
 */
export function selectionParams(selection: Selection): [string[] | null, number | null] {
  if ("ids" in selection) {
    const ids = selection.ids.map(parseId).filter((id): id is string => id !== null);
    return [ids, null];
  }
  return [null, selection.limit ?? null];
}

/**
 * The oldest-first rows of `state` in queue $1 that the selection names, locked for the
 * statement that changes them. Through jobs_state (queue, state, id).
 */
export function selectedRows(jobs: string, state: string): string {
  return `
    SELECT id, key FROM ${jobs}
    WHERE queue = $1 AND state = '${state}' AND ($2::bigint[] IS NULL OR id = ANY($2::bigint[]))
    ORDER BY id
    LIMIT $3
    FOR UPDATE`;
}
