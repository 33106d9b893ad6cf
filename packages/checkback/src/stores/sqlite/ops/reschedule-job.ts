import type { JobRef } from "../../../core/job.js";
import { resolveWhen } from "../../new-job.js";
import type { ChangeOutcome, When } from "../../store.js";
import type { SqliteContext } from "../context.js";
import { JOB_COLUMNS, type JobRow, toRecord } from "../rows.js";
import { findByRef } from "./get-job.js";
import { changeGroup } from "./groups.js";

/**
 * reschedule: moves a scheduled job to a new due instant, by id or by key.
 *
 * Mode: find and update in one write transaction. Only scheduled jobs move: an active job is
 * being run and a finished one is history; both are reported unchanged. An earlier instant
 * wakes sleeping workers once committed. A grouped job keeps waiting in its group (due_at
 * stays NULL) and its group is recomputed in a savepoint with the update (ops/groups.ts): the
 * job may become, or stop being, the group's head.
 */
const RESCHEDULE = `
  UPDATE jobs SET run_at = ?, due_at = ?, updated_at = ?
  WHERE id = ?
  RETURNING ${JOB_COLUMNS}`;

/** Runs inside a write transaction. */
export function rescheduleJob(ctx: SqliteContext, queue: string, ref: JobRef, when: When, now: number): ChangeOutcome {
  const row = findByRef(ctx, queue, ref);
  if (!row) return { job: null, changed: false };
  if (row.state !== "scheduled") return { job: toRecord(row), changed: false };
  const runAt = resolveWhen(when, now);
  const group = row.group_name;
  if (group === null) {
    const moved = ctx.statement<JobRow>(RESCHEDULE).get(runAt, runAt, now, row.id)!;
    ctx.wake(queue, runAt);
    return { job: toRecord(moved), changed: true };
  }
  const moved = ctx.atomic(() => {
    const done = ctx.statement<JobRow>(RESCHEDULE).get(runAt, null, now, row.id)!;
    changeGroup(ctx, queue, group, now, {});
    return done;
  });
  return { job: toRecord(moved), changed: true };
}
