import { JOB_STATES, type JobState } from "../../../core/job.js";
import type { SqliteContext } from "../context.js";

/**
 * counts / queues: the dashboard's overview reads.
 *
 * counts groups jobs_state entries of one queue: it visits every index entry of the queue,
 * which is fine for an overview (about 100 ms per million jobs) but is not something to call
 * per job.
 *
 * queues walks the distinct queue names with a skip scan written out as a recursive query:
 * each step seeks the next name greater than the last in jobs_state, so it costs one seek per
 * queue instead of a scan of every job.
 */
const COUNTS = "SELECT state, count(*) AS n FROM jobs WHERE queue = ? GROUP BY state";

const QUEUES = `
  WITH RECURSIVE names(name) AS (
    SELECT min(queue) FROM jobs
    UNION ALL
    SELECT (SELECT min(queue) FROM jobs WHERE queue > names.name) FROM names WHERE names.name IS NOT NULL
  )
  SELECT name FROM names WHERE name IS NOT NULL`;

export function countJobs(ctx: SqliteContext, queue: string): Record<JobState, number> {
  const counts = Object.fromEntries(JOB_STATES.map((state) => [state, 0])) as Record<JobState, number>;
  for (const { state, n } of ctx.statement<{ state: JobState; n: number }>(COUNTS).all(queue)) counts[state] = n;
  return counts;
}

export function listQueues(ctx: SqliteContext): string[] {
  return ctx
    .statement<{ name: string }>(QUEUES)
    .all()
    .map((row) => row.name);
}
