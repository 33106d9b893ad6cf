import type { JobState } from "../../../core/job.js";
import { decodeListCursor, encodeListCursor } from "../../list-cursor.js";
import type { Page, PageRequest } from "../../store.js";
import { type PgContext, run, type SchemaSql } from "../context.js";
import { JOB_COLUMNS, type JobRow, parseId, toRecord } from "../rows.js";

/**
 * list: one state's jobs, oldest first (id order, which is insertion order), a page at a time.
 *
 * Mode: keyset pagination over jobs_state (queue, state, id): the cursor is the last id
 * returned, so a page costs one index seek plus `limit` rows however deep it is, and jobs added
 * or finished between pages neither repeat nor shift the pages. One extra row is read to know
 * whether another page follows. A cursor that is not one of ours is refused (list-cursor.ts).
 */
const LIST = ({ jobs }: SchemaSql) => `
  SELECT ${JOB_COLUMNS} FROM ${jobs}
  WHERE queue = $1 AND state = $2 AND id > $3::bigint
  ORDER BY id
  LIMIT $4`;

export async function listJobs(
  ctx: PgContext,
  queue: string,
  state: JobState,
  { limit, cursor }: PageRequest,
): Promise<Page> {
  const after = decodeListCursor(cursor, queue, state, isRowId) ?? "0";
  const rows = await run<JobRow>(ctx.db, ctx.sql, LIST, [queue, state, after, limit + 1]);
  const more = rows.length > limit;
  if (more) rows.length = limit;
  return { jobs: rows.map(toRecord), next: more ? encodeListCursor(queue, state, rows.at(-1)!.id) : null };
}

function isRowId(position: unknown): position is string {
  return typeof position === "string" && parseId(position) !== null;
}
