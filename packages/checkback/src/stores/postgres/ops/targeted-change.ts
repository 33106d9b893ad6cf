import type { JobRef } from "../../../core/job.js";
import type { ChangeOutcome } from "../../store.js";
import { type Queryable, run, type SchemaSql } from "../context.js";
import { type JobRow, parseId, toRecord } from "../rows.js";
import { findByRef } from "./get-job.js";

/**
 * The shape shared by cancel, reschedule and settle: change the job a ref names if its state
 * allows, else report it as it is.
 *
 * Mode: the change is one conditional UPDATE whose WHERE names the job (by id, or by key among
 * unfinished jobs through jobs_unfinished_key) AND the states it may be in. PostgreSQL re-checks
 * that condition on the row's newest version when a concurrent change committed first, so of a
 * settle racing a completion, or a cancel racing a claim, exactly one wins without any explicit
 * lock. Only when nothing changed is there a second statement: a plain read of what the ref
 * names, to report it (or null) with `changed: false`.
 *
 * Each caller passes two statement builders, by id and by key, with the same parameters after
 * the first two ($1 queue, $2 id or key).
 */
export interface TargetedChange {
  byId: (sql: SchemaSql) => string;
  byKey: (sql: SchemaSql) => string;
}

export async function changeJob(
  db: Queryable,
  sql: SchemaSql,
  queue: string,
  ref: JobRef,
  change: TargetedChange,
  values: unknown[],
): Promise<{ outcome: ChangeOutcome; row?: JobRow }> {
  let changed: JobRow | undefined;
  if ("id" in ref) {
    const rowid = parseId(ref.id);
    if (rowid === null) return { outcome: { job: null, changed: false } };
    changed = (await run<JobRow>(db, sql, change.byId, [queue, rowid, ...values]))[0];
  } else {
    changed = (await run<JobRow>(db, sql, change.byKey, [queue, ref.key, ...values]))[0];
  }
  if (changed) return { outcome: { job: toRecord(changed), changed: true }, row: changed };
  const current = await findByRef(db, sql, queue, ref);
  return { outcome: { job: current ? toRecord(current) : null, changed: false } };
}

/** The WHERE clauses naming a job by id or by key among unfinished jobs, for builders. */
export const BY_ID = "queue = $1 AND id = $2::bigint";
export const BY_KEY = "queue = $1 AND key = $2 AND state IN ('scheduled', 'active')";
