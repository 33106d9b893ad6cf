import type { AddOutcome, NewJob, When } from "../../store.js";
import { storedBackoffText } from "../../stored-backoff.js";
import { type PgContext, type Queryable, run, type SchemaSql } from "../context.js";
import { JOB_COLUMNS, type JobRow, toRecord } from "../rows.js";

/**
 * add: inserts jobs, honouring business keys.
 *
 * Mode: one INSERT … SELECT FROM unnest(…) for the whole batch, so a bulk add of thousands of
 * jobs is one round trip and atomic on its own (a statement is all or nothing). The rows are
 * inserted in input order, so their bigserial ids — the FIFO sequence — follow the input.
 *
 * Keys are settled by PostgreSQL through INSERT … ON CONFLICT on the unique partial index
 * jobs_unfinished_key. The conflicting holder is always "updated" — for "keep" with a no-op
 * assignment — because that is what makes ON CONFLICT lock the holder and RETURN it even when a
 * concurrent transaction inserted it after this statement's snapshot; DO NOTHING would return no
 * row and a follow-up read could miss it. `xmax = 0` tells a fresh insert from a holder. For
 * "replace", the CASEs only change a holder that is still scheduled: an active job is being run
 * and is never replaced (reported "existing").
 *
 * ON CONFLICT cannot touch one row twice in a statement, so a batch that repeats a key (or mixes
 * keep and replace among its keyed jobs) is added one job per statement inside a transaction
 * instead: rarer, and it keeps "a later job sees the earlier one" exactly as in the other stores.
 *
 * When: a relative delay is resolved on the server's clock in the same statement (`clock`
 * CTE); an absolute runAt is taken as given.
 *
 * Groups (group-schema.ts): a grouped job is inserted with due_at NULL (it waits in its group,
 * not in jobs_due), and the same statement calls group_change once per group it added to (or
 * whose holder it replaced), in group-name order: the group's row and turn are part of the add,
 * never a step apart from it. A batch without grouped jobs and without "replace" can change no
 * group (a kept holder is left as it is) and is the plain INSERT, without that step.
 */
function insertSql(onDuplicate: NewJob["onDuplicate"], grouped: boolean) {
  const scheduledThen = (column: string) =>
    `${column} = CASE WHEN j.state = 'scheduled' THEN EXCLUDED.${column} ELSE j.${column} END`;
  // A replaced holder keeps its group, so its due_at follows the holder's group, not the new job's.
  const onConflict =
    onDuplicate === "keep"
      ? "key = EXCLUDED.key"
      : [
          ...["payload", "run_at", "max_attempts", "backoff", "updated_at"].map(scheduledThen),
          "due_at = CASE WHEN j.state = 'scheduled' THEN CASE WHEN j.group_name IS NULL THEN EXCLUDED.run_at END ELSE j.due_at END",
        ].join(", ");
  // Which returned rows changed a group: new rows, and (replace) scheduled holders given a new run_at.
  const changed = onDuplicate === "keep" ? "a.inserted" : "(a.inserted OR a.state = 'scheduled')";
  return ({ jobs, now, schema }: SchemaSql) => {
    const insert = `
      INSERT INTO ${jobs} AS j (queue, key, payload, state, run_at, due_at, attempts, max_attempts, backoff,
                                created_at, updated_at, priority, group_name)
      SELECT i.queue, i.key, i.payload, 'scheduled', coalesce(i.run_at, clock.now + i.delay_ms),
             CASE WHEN i.group_name IS NULL THEN coalesce(i.run_at, clock.now + i.delay_ms) END,
             0, i.max_attempts, i.backoff, clock.now, clock.now, i.priority, i.group_name
      FROM input i CROSS JOIN clock
      ORDER BY i.ord
      ON CONFLICT (queue, key) WHERE key IS NOT NULL AND state IN ('scheduled', 'active')
      DO UPDATE SET ${onConflict}
      RETURNING ${JOB_COLUMNS.split(", ")
        .map((column) => `j.${column}`)
        .join(", ")}, (j.xmax = 0) AS inserted`;
    const head = `
    WITH clock AS (SELECT ${now} AS now),
    input AS (
      SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::integer[], $7::text[],
                           $8::smallint[], $9::text[])
        WITH ORDINALITY AS i(queue, key, payload, run_at, delay_ms, max_attempts, backoff, priority, group_name, ord)
    )`;
    if (!grouped) return `${head}${insert}`;
    return `${head},
    added AS (${insert}
    ),
    touched AS (
      SELECT ${schema}.group_change(a.queue, a.group_name, 0, (count(*) FILTER (WHERE a.inserted))::integer,
                                    array_agg(a.id) FILTER (WHERE NOT a.inserted), min(a.run_at))
      FROM added a WHERE a.group_name IS NOT NULL AND ${changed}
      GROUP BY a.queue, a.group_name ORDER BY a.queue, a.group_name
    )
    SELECT added.*, (SELECT count(*) FROM touched) AS groups_touched FROM added`;
  };
}

const INSERT_KEEP = insertSql("keep", false);
const INSERT_KEEP_GROUPED = insertSql("keep", true);
const INSERT_REPLACE = insertSql("replace", true);

type InsertedRow = JobRow & { inserted: boolean };

export async function addJobs(ctx: PgContext, jobs: NewJob[]): Promise<AddOutcome[]> {
  if (jobs.length === 0) return [];
  if (ctx.adds) return ctx.adds.add(jobs);
  if (canShareStatement(jobs)) return insertBatch(ctx.db, ctx.sql, jobs);
  return addOneByOne(ctx, jobs);
}

/** Whether one INSERT … ON CONFLICT can add these jobs: distinct keys, one policy among keyed jobs. */
export function canShareStatement(jobs: NewJob[]): boolean {
  const keys = new Set<string>();
  let policy: NewJob["onDuplicate"] | undefined;
  for (const job of jobs) {
    if (job.key === null) continue;
    const key = keyOf(job);
    if (keys.has(key) || (policy !== undefined && job.onDuplicate !== policy)) return false;
    keys.add(key);
    policy = job.onDuplicate;
  }
  return true;
}

/** A job per statement, in one transaction: a batch that repeats a key or mixes policies. */
export function addOneByOne(ctx: PgContext, jobs: NewJob[]): Promise<AddOutcome[]> {
  return ctx.transaction(async (db) => {
    const outcomes: AddOutcome[] = [];
    for (const job of jobs) outcomes.push(...(await insertBatch(db, ctx.sql, [job])));
    return outcomes;
  });
}

/** One statement for jobs whose keys are distinct and share one onDuplicate policy. */
export async function insertBatch(db: Queryable, sql: SchemaSql, jobs: NewJob[]): Promise<AddOutcome[]> {
  const replace = jobs.some((job) => job.key !== null && job.onDuplicate === "replace");
  // A keep-only batch without a group changes no group (a holder is left as it is): it is the
  // plain INSERT, with no group step at all.
  const grouped = jobs.some((job) => job.group !== undefined && job.group !== null);
  const columns = toColumns(jobs);
  const statement = replace ? INSERT_REPLACE : grouped ? INSERT_KEEP_GROUPED : INSERT_KEEP;
  const rows = await run<InsertedRow>(db, sql, statement, columns);

  const byKey = new Map<string, InsertedRow>();
  const unkeyed: InsertedRow[] = [];
  for (const row of rows) {
    if (row.key === null) unkeyed.push(row);
    else byKey.set(`${row.queue}\u0000${row.key}`, row);
  }
  // Rows without a key were all inserted, in input order: ascending ids give that order back.
  unkeyed.sort((a, b) => compareIds(a.id, b.id));
  let nextUnkeyed = 0;
  return jobs.map((job) => {
    const row = job.key === null ? unkeyed[nextUnkeyed++]! : byKey.get(keyOf(job))!;
    const outcome = row.inserted
      ? "created"
      : job.onDuplicate === "replace" && row.state === "scheduled"
        ? "replaced"
        : "existing";
    return { job: toRecord(row), outcome };
  });
}

function toColumns(jobs: NewJob[]): unknown[] {
  const queues: string[] = [];
  const keys: (string | null)[] = [];
  const payloads: string[] = [];
  const runAts: (number | null)[] = [];
  const delays: (number | null)[] = [];
  const maxAttempts: number[] = [];
  const backoffs: string[] = [];
  const priorities: number[] = [];
  const groups: (string | null)[] = [];
  for (const job of jobs) {
    queues.push(job.queue);
    keys.push(job.key);
    payloads.push(job.payload);
    const [runAt, delay] = whenColumns(job.when);
    runAts.push(runAt);
    delays.push(delay);
    maxAttempts.push(job.maxAttempts);
    backoffs.push(storedBackoffText(job.backoff));
    priorities.push(job.priority ?? 0);
    groups.push(job.group ?? null);
  }
  return [queues, keys, payloads, runAts, delays, maxAttempts, backoffs, priorities, groups];
}

/** [absolute runAt, relative delay]: exactly one is set; SQL resolves `coalesce(runAt, now + delay)`. */
export function whenColumns(when: When): [number | null, number | null] {
  return "runAt" in when ? [when.runAt, null] : [null, when.delayMs];
}

function keyOf(job: NewJob): string {
  return `${job.queue}\u0000${job.key}`;
}

function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
