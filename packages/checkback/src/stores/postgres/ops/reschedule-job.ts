import type { JobRef } from "../../../core/job.js";
import type { ChangeOutcome, When } from "../../store.js";
import type { PgContext, SchemaSql } from "../context.js";
import { JOB_COLUMNS } from "../rows.js";
import { whenColumns } from "./add-jobs.js";
import { BY_ID, BY_KEY, changeJob } from "./targeted-change.js";

/**
 * reschedule: moves a scheduled job to a new due instant, by id or by key (see
 * targeted-change.ts for the mode). Only scheduled jobs move: an active job is being run and a
 * finished one is history; both are reported unchanged. The notify trigger wakes sleeping
 * workers once the change commits, so an earlier instant is acted on at once. A grouped job
 * moves within its group (due_at stays NULL) and its group's turn is recomputed in the same
 * statement.
 */
const reschedule = (where: string) => (sql: SchemaSql) =>
  `
  WITH clock AS (SELECT ${sql.now} AS now),
  changed AS (
    UPDATE ${sql.jobs} SET run_at = coalesce($3::bigint, clock.now + $4::bigint),
                         due_at = CASE WHEN group_name IS NULL THEN coalesce($3::bigint, clock.now + $4::bigint) END,
                         updated_at = clock.now
    FROM clock
    WHERE ${where} AND state = 'scheduled'
    RETURNING ${JOB_COLUMNS}
  ),
  touched AS (
    SELECT ${sql.schema}.group_change(c.queue, c.group_name, 0, 0, ARRAY[c.id], c.run_at)
    FROM changed c WHERE c.group_name IS NOT NULL
  )
  SELECT *, (SELECT count(*) FROM touched) AS groups_touched FROM changed`;

const RESCHEDULE = { byId: reschedule(BY_ID), byKey: reschedule(BY_KEY) };

export async function rescheduleJob(ctx: PgContext, queue: string, ref: JobRef, when: When): Promise<ChangeOutcome> {
  return (await changeJob(ctx.db, ctx.sql, queue, ref, RESCHEDULE, whenColumns(when))).outcome;
}
