import { checkGroupPriority } from "../../../flow/groups.js";
import { createdRecord, resolveWhen } from "../../new-job.js";
import type { AddOutcome, NewJob } from "../../store.js";
import { storedBackoffText } from "../../stored-backoff.js";
import type { SqliteContext } from "../context.js";
import { JOB_COLUMNS, type JobRow, toRecord } from "../rows.js";
import { changeGroup } from "./groups.js";

/**
 * add: inserts jobs, honouring business keys.
 *
 * Mode: the caller runs this inside one write transaction, so a batch (addBulk, or the
 * follow-ups of a completion) is all-or-nothing, and a key is checked against jobs added
 * earlier in the same batch as naturally as against older ones.
 *
 * A job with a key first looks for the unfinished job holding it, through the unique partial
 * index jobs_unfinished_key (the same index that makes a second holder impossible, so even a
 * bug here could not create one). Found: kept ("existing") or, when asked and it is still
 * scheduled, given the new payload, due instant, attempts and back-off ("replaced"). An
 * active holder is never replaced: a worker is running it.
 *
 * A new job's record is built from its input rather than read back (see new-job.ts).
 *
 * A grouped job (flow/groups.ts) is inserted with due_at NULL, waiting in its group, and its
 * group is recomputed (ops/groups.ts), which wakes workers if the group became ready earlier.
 * A replace keeps the holder's group, and recomputes it since its head may have moved.
 */
const SELECT_HOLDER = `
  SELECT ${JOB_COLUMNS} FROM jobs
  WHERE queue = ? AND key = ? AND state IN ('scheduled', 'active')`;

const REPLACE = `
  UPDATE jobs SET payload = ?, run_at = ?, due_at = ?, max_attempts = ?, backoff = ?, updated_at = ?
  WHERE id = ?
  RETURNING ${JOB_COLUMNS}`;

const INSERT = `
  INSERT INTO jobs (queue, key, payload, state, run_at, due_at, attempts, max_attempts, backoff, errors,
                    created_at, updated_at, priority, group_name)
  VALUES (?, ?, ?, 'scheduled', ?, ?, 0, ?, ?, '[]', ?, ?, ?, ?)`;

/** Runs inside a write transaction. */
export function addJobs(ctx: SqliteContext, jobs: NewJob[], now: number): AddOutcome[] {
  const outcomes: AddOutcome[] = new Array(jobs.length);
  for (let i = 0; i < jobs.length; i++) outcomes[i] = addOne(ctx, jobs[i]!, now);
  return outcomes;
}

function addOne(ctx: SqliteContext, input: NewJob, now: number): AddOutcome {
  const runAt = resolveWhen(input.when, now);
  if (input.key !== null) {
    const holder = ctx.statement<JobRow>(SELECT_HOLDER).get(input.queue, input.key);
    if (holder) {
      if (input.onDuplicate !== "replace" || holder.state !== "scheduled") {
        return { job: toRecord(holder), outcome: "existing" };
      }
      const group = holder.group_name;
      const replaced = ctx
        .statement<JobRow>(REPLACE)
        .get(
          input.payload,
          runAt,
          group === null ? runAt : null,
          input.maxAttempts,
          storedBackoffText(input.backoff),
          now,
          holder.id,
        )!;
      if (group === null) ctx.wake(input.queue, runAt);
      else changeGroup(ctx, input.queue, group, now, {});
      return { job: toRecord(replaced), outcome: "replaced" };
    }
  }
  const group = input.group ?? null;
  const priority = input.priority ?? 0;
  if (group !== null) checkGroupPriority(group, priority);
  const { lastInsertRowid } = ctx
    .statement(INSERT)
    .run(
      input.queue,
      input.key,
      input.payload,
      runAt,
      group === null ? runAt : null,
      input.maxAttempts,
      storedBackoffText(input.backoff),
      now,
      now,
      priority,
      group,
    );
  if (group === null) ctx.wake(input.queue, runAt);
  else changeGroup(ctx, input.queue, group, now, { scheduled: 1 });
  return { job: createdRecord(input, String(lastInsertRowid), runAt, now), outcome: "created" };
}
