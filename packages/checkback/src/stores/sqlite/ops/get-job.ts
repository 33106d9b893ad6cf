import type { JobRef } from "../../../core/job.js";
import type { SqliteContext } from "../context.js";
import { JOB_COLUMNS, type JobRow, parseId } from "../rows.js";

/**
 * get / getByKey: plain reads, outside any transaction (one statement sees one snapshot).
 * By id through the primary key; by key through jobs_key. A job id names a job only in its own
 * queue, so every lookup also matches the queue.
 */
const SELECT_BY_ID = `SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ? AND queue = ?`;

/**
 * The job a key names: the unfinished one holding it, else the one that finished last
 * (updated_at of a finished job is its finish instant; id breaks ties), among those retained.
 * Reads jobs_key: a key has few rows, bounded by retention.
 */
const SELECT_BY_KEY = `
  SELECT ${JOB_COLUMNS} FROM jobs
  WHERE queue = ? AND key = ?
  ORDER BY state IN ('scheduled', 'active') DESC, updated_at DESC, id DESC
  LIMIT 1`;

export function findById(ctx: SqliteContext, queue: string, id: string): JobRow | undefined {
  const rowid = parseId(id);
  if (rowid === null) return undefined;
  return ctx.statement<JobRow>(SELECT_BY_ID).get(rowid, queue);
}

export function findByKey(ctx: SqliteContext, queue: string, key: string): JobRow | undefined {
  return ctx.statement<JobRow>(SELECT_BY_KEY).get(queue, key);
}

export function findByRef(ctx: SqliteContext, queue: string, ref: JobRef): JobRow | undefined {
  return "id" in ref ? findById(ctx, queue, ref.id) : findByKey(ctx, queue, ref.key);
}
