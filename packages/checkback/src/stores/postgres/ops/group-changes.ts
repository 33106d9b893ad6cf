/**
 * The `touched` CTEs that keep a group in step with its jobs (flow/groups.ts rule 6;
 * group-schema.ts). Each operation that changes jobs RETURNs the changed rows from a CTE and
 * adds one of these: group_change is called once per group the statement changed, in
 * (queue, group-name) order — the one order in which any statement locks several group rows —
 * with the change in counts, the ids changed and their earliest run_at if they are scheduled
 * now. The statement must refer to `touched` (`(SELECT count(*) FROM touched)`): a CTE that is
 * not read is not run. A statement that changed no grouped job makes no call at all.
 */

/** Jobs that were active and finished (complete, buried): each frees its place. */
export function groupsFinished(schema: string, rows: string): string {
  return `touched AS (
    SELECT ${schema}.group_change(f.queue, f.group_name, -count(*)::integer, 0, NULL, NULL)
    FROM ${rows} f WHERE f.group_name IS NOT NULL
    GROUP BY f.queue, f.group_name ORDER BY f.queue, f.group_name
  )`;
}

/** Jobs that were active and are now scheduled again (retry, release) or dead. */
export function groupsLeftActive(schema: string, rows: string): string {
  return `touched AS (
    SELECT ${schema}.group_change(f.queue, f.group_name, -count(*)::integer,
                                  (count(*) FILTER (WHERE f.state = 'scheduled'))::integer,
                                  array_agg(f.id), min(f.run_at) FILTER (WHERE f.state = 'scheduled'))
    FROM ${rows} f WHERE f.group_name IS NOT NULL
    GROUP BY f.queue, f.group_name ORDER BY f.queue, f.group_name
  )`;
}

/** Jobs that were scheduled or active (`prior_state`) and are finished now (cancel, settle). */
export function groupsEnded(schema: string, rows: string): string {
  return `touched AS (
    SELECT ${schema}.group_change(f.queue, f.group_name,
                                  -(count(*) FILTER (WHERE f.prior_state = 'active'))::integer,
                                  -(count(*) FILTER (WHERE f.prior_state = 'scheduled'))::integer,
                                  array_agg(f.id), NULL)
    FROM ${rows} f WHERE f.group_name IS NOT NULL
    GROUP BY f.queue, f.group_name ORDER BY f.queue, f.group_name
  )`;
}

/** Jobs that were finished and are scheduled again (redrive). */
export function groupsRescheduled(schema: string, rows: string): string {
  return `touched AS (
    SELECT ${schema}.group_change(f.queue, f.group_name, 0, count(*)::integer, array_agg(f.id), min(f.run_at))
    FROM ${rows} f WHERE f.group_name IS NOT NULL
    GROUP BY f.queue, f.group_name ORDER BY f.queue, f.group_name
  )`;
}
