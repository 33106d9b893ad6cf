import type { JobState } from "../../../core/job.js";
import { decodeListCursor, encodeListCursor, isIntegerPosition } from "../../list-cursor.js";
import type { Page, PageRequest } from "../../store.js";
import type { SqliteContext } from "../context.js";
import { JOB_COLUMNS, type JobRow, toRecord } from "../rows.js";

/**
 * list: one state's jobs, oldest first (id order, which is insertion order), a page at a time.
 *
 * Mode: keyset pagination over jobs_state (queue, state, id): the cursor is the last id
 * returned, so a page costs one index seek plus `limit` rows however deep it is, and jobs
 * added or finished between pages neither repeat nor shift the pages. One extra row is read
 * to know whether another page follows. A cursor that is not one of ours is refused (list-cursor.ts).
 */
const LIST = `
  SELECT ${JOB_COLUMNS} FROM jobs
  WHERE queue = ? AND state = ? AND id > ?
  ORDER BY id
  LIMIT ?`;

export function listJobs(ctx: SqliteContext, queue: string, state: JobState, { limit, cursor }: PageRequest): Page {
  const after = Number(decodeListCursor(cursor, queue, state, isIntegerPosition) ?? 0);
  const rows = ctx.statement<JobRow>(LIST).all(queue, state, after, limit + 1);
  const more = rows.length > limit;
  if (more) rows.length = limit;
  return { jobs: rows.map(toRecord), next: more ? encodeListCursor(queue, state, String(rows.at(-1)!.id)) : null };
}
