import { JOB_STATES, type JobState } from "../../../core/job.js";
import { type PgContext, run, type SchemaSql } from "../context.js";

/**
 * counts / queues: the dashboard's overview reads.
 *
 * counts groups one queue's entries of jobs_state: it visits every index entry of the queue
 * (an index-only scan once the table is vacuumed), fine for an overview, not something to call
 * per job.
 *
 * queues walks the distinct queue names with a skip scan written as a recursive query: each step
 * seeks the next name greater than the last in jobs_state, so it costs one seek per queue
 * instead of a scan of every job (PostgreSQL 15 has no skip scan of its own).
 */
const COUNTS = ({ jobs }: SchemaSql) =>
  `SELECT state, count(*)::integer AS n FROM ${jobs} WHERE queue = $1 GROUP BY state`;

const QUEUES = ({ jobs }: SchemaSql) => `
  WITH RECURSIVE names(name) AS (
    SELECT min(queue) FROM ${jobs}
    UNION ALL
    SELECT (SELECT min(queue) FROM ${jobs} WHERE queue > names.name) FROM names WHERE names.name IS NOT NULL
  )
  SELECT name FROM names WHERE name IS NOT NULL`;

export async function countJobs(ctx: PgContext, queue: string): Promise<Record<JobState, number>> {
  const counts = Object.fromEntries(JOB_STATES.map((state) => [state, 0])) as Record<JobState, number>;
  for (const { state, n } of await run<{ state: JobState; n: number }>(ctx.db, ctx.sql, COUNTS, [queue])) {
    counts[state] = n;
  }
  return counts;
}

export async function listQueues(ctx: PgContext): Promise<string[]> {
  return (await run<{ name: string }>(ctx.db, ctx.sql, QUEUES, [])).map((row) => row.name);
}
