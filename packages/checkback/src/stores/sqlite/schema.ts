import type Database from "better-sqlite3";

/**
 * The SQLite schema, versioned with `PRAGMA user_version`: migration N takes the file from
 * version N to N + 1. Opening a store runs the missing migrations in one IMMEDIATE
 * transaction, re-reading the version inside it, so two processes opening a new file at once
 * cannot both create the tables; reopening an up-to-date file changes nothing.
 *
 * One table holds every queue's jobs. `id` is AUTOINCREMENT so an id is never reused (a
 * purged job's id cannot come back as another job) and it doubles as the FIFO sequence: jobs
 * due at the same instant come out in id order.
 *
 * `due_at` is the single column claims look at: `run_at` while scheduled, `lease_expires_at`
 * while active, NULL once finished. An expired lease is therefore found by the same index
 * range as a due job, and finished jobs drop out of the claim index entirely (partial index).
 *
 * Indexes, each paid for on every write, so each has one job:
 *   jobs_due           (queue, due_at, id) partial on due_at: claimDue and the next due instant
 *   jobs_unfinished_key unique (queue, key) over scheduled/active: a key is held by at most one
 *                      unfinished job, enforced by SQLite itself
 *   jobs_key           (queue, key, id): getByKey of finished jobs (and by-key refs)
 *   jobs_state         (queue, state, id): list pages and counts
 *   jobs_retention     (queue, updated_at, id) partial over completed/cancelled: trim walks the
 *                      newest finished jobs without sorting the whole queue
 *   jobs_due_ranked    (queue, priority, due_at, id) partial over unfinished jobs with a priority
 *                      other than 0 (migration 2): the per-level due heads a claim merges by
 *                      rank (flow/priority.ts); empty, and free, for queues without priorities
 *
 * queue_flow (migration 3) holds a row per queue with a rate limit or a pause (flow/rate-limit.ts).
 *
 * Groups (migration 4, flow/groups.ts; ops/groups.ts keeps the rule). `group_name` is a job's
 * group. A grouped job while SCHEDULED has due_at NULL: it waits in its group, outside
 * jobs_due, so no claim can take it past its group's turn, concurrency or bucket. While ACTIVE
 * it has due_at = lease expiry like any job, so an expired lease is found by the ordinary path.
 *   jobs_group_waiting (queue, group_name, run_at, id) partial over scheduled grouped jobs: a
 *                      group's head in (runAt, insertion) order, one seek
 * job_groups holds a row per (queue, group) while the group has an unfinished job or state
 * worth keeping (own limits, a pause, a bucket not yet full): its active and scheduled counts,
 * servedAt and the serve's turn, readyAt (NULL: not ready) and ready_turn (the serve's turn
 * when readyAt is servedAt, else 0: a group served at an instant goes behind the groups already
 * waiting at it), its own limits, its bucket (tokens NULL: no rate limit), and idle_at, the
 * instant a row with nothing left to hold may be deleted.
 *   job_groups_ready   (queue, ready_at, ready_turn, name) partial over ready groups: the turn
 *                      order
 *   job_groups_busiest (queue, active DESC, name) partial over groups with an active job
 *   job_groups_idle    (queue, idle_at) partial: rows waiting only for their bucket to refill
 *                      or their pause to end, swept once that instant has passed
 * queue_groups holds a row per queue that has set default limits for its groups or served
 * one: those limits (defaulted 1: set, even to none), and the count of serves that numbers the
 * turns.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    queue            TEXT    NOT NULL,
    key              TEXT,
    payload          TEXT    NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('scheduled', 'active', 'completed', 'dead', 'cancelled')),
    run_at           INTEGER NOT NULL,
    due_at           INTEGER,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    backoff          TEXT    NOT NULL,
    errors           TEXT    NOT NULL DEFAULT '[]',
    result           TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    lease_token      TEXT,
    lease_expires_at INTEGER
  );
  CREATE INDEX jobs_due ON jobs (queue, due_at, id) WHERE due_at IS NOT NULL;
  CREATE UNIQUE INDEX jobs_unfinished_key ON jobs (queue, key)
    WHERE key IS NOT NULL AND state IN ('scheduled', 'active');
  CREATE INDEX jobs_key ON jobs (queue, key, id) WHERE key IS NOT NULL;
  CREATE INDEX jobs_state ON jobs (queue, state, id);
  CREATE INDEX jobs_retention ON jobs (queue, updated_at, id) WHERE state IN ('completed', 'cancelled');
  `,
  `
  ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX jobs_due_ranked ON jobs (queue, priority, due_at, id) WHERE due_at IS NOT NULL AND priority <> 0;
  `,
  `
  CREATE TABLE queue_flow (
    queue        TEXT    PRIMARY KEY,
    rate         INTEGER,
    per_ms       INTEGER,
    tokens       REAL    NOT NULL,
    refilled_at  INTEGER NOT NULL,
    paused_until INTEGER
  ) WITHOUT ROWID;
  `,
  `
  ALTER TABLE jobs ADD COLUMN group_name TEXT;
  CREATE INDEX jobs_group_waiting ON jobs (queue, group_name, run_at, id)
    WHERE group_name IS NOT NULL AND state = 'scheduled';
  CREATE TABLE job_groups (
    queue        TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    active       INTEGER NOT NULL,
    scheduled    INTEGER NOT NULL,
    served_at    INTEGER,
    served_turn  INTEGER NOT NULL,
    ready_at     INTEGER,
    ready_turn   INTEGER NOT NULL,
    idle_at      INTEGER,
    own_limits   INTEGER NOT NULL,
    concurrency  INTEGER,
    rate         INTEGER,
    per_ms       INTEGER,
    tokens       REAL,
    refilled_at  INTEGER,
    paused_until INTEGER,
    PRIMARY KEY (queue, name)
  ) WITHOUT ROWID;
  CREATE INDEX job_groups_ready ON job_groups (queue, ready_at, ready_turn, name) WHERE ready_at IS NOT NULL;
  CREATE INDEX job_groups_busiest ON job_groups (queue, active DESC, name) WHERE active > 0;
  CREATE INDEX job_groups_idle ON job_groups (queue, idle_at) WHERE idle_at IS NOT NULL;
  CREATE TABLE queue_groups (
    queue       TEXT    PRIMARY KEY,
    defaulted   INTEGER NOT NULL,
    concurrency INTEGER,
    rate        INTEGER,
    per_ms      INTEGER,
    turns       INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the file's schema up to SCHEMA_VERSION; refuses a file written by a newer version.
 * `target` stops earlier: how a test makes a file as an older checkback left it.
 */
export function migrate(db: Database.Database, target = SCHEMA_VERSION): void {
  const run = db.transaction(() => {
    const version = db.pragma("user_version", { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `the database has schema version ${version}, newer than this checkback supports (${SCHEMA_VERSION}); upgrade checkback`,
      );
    }
    for (let next = version; next < target; next++) {
      db.exec(MIGRATIONS[next]!);
    }
    if (version < target) db.pragma(`user_version = ${target}`);
  });
  run.immediate();
}
