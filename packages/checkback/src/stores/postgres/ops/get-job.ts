import type { JobRef } from "../../../core/job.js";
import { type Queryable, run, type SchemaSql } from "../context.js";
import { JOB_COLUMNS, type JobRow, parseId } from "../rows.js";

/**
 * get / getByKey: plain reads, one statement each. By id through the primary key; by key
 * through jobs_key. A job id names a job only in its own queue, so every lookup also matches
 * the queue.
 */
const SELECT_BY_ID = ({ jobs }: SchemaSql) => `SELECT ${JOB_COLUMNS} FROM ${jobs} WHERE id = $1::bigint AND queue = $2`;

/**
 * The job a key names: the unfinished one holding it, else the one that finished last
 * (updated_at of a finished job is its finish instant; id breaks ties), among those retained.
 * A key has few rows, bounded by retention.
 */
const SELECT_BY_KEY = ({ jobs }: SchemaSql) => `
  SELECT ${JOB_COLUMNS} FROM ${jobs}
  WHERE queue = $1 AND key = $2
  ORDER BY state IN ('scheduled', 'active') DESC, updated_at DESC, id DESC
  LIMIT 1`;

export async function findById(db: Queryable, sql: SchemaSql, queue: string, id: string): Promise<JobRow | undefined> {
  const rowid = parseId(id);
  if (rowid === null) return undefined;
  return (await run<JobRow>(db, sql, SELECT_BY_ID, [rowid, queue]))[0];
}

export async function findByKey(
  db: Queryable,
  sql: SchemaSql,
  queue: string,
  key: string,
): Promise<JobRow | undefined> {
  return (await run<JobRow>(db, sql, SELECT_BY_KEY, [queue, key]))[0];
}

export function findByRef(db: Queryable, sql: SchemaSql, queue: string, ref: JobRef): Promise<JobRow | undefined> {
  return "id" in ref ? findById(db, sql, queue, ref.id) : findByKey(db, sql, queue, ref.key);
}
