import { PRIORITY_LEVELS, PRIORITY_STEP_MS } from "../../flow/priority.js";
import type { Queryable } from "./context.js";
import { groupsMigration } from "./group-schema.js";

/**
 * The PostgreSQL schema, versioned in a `migrations` table inside the store's own schema
 * (default "checkback"): migration N takes the schema from version N to N + 1.
 *
 * Start-up. Every store instance runs `migrate` once before its first operation. It runs in one
 * transaction that first takes a transaction-scoped advisory lock named after the schema, so
 * two processes starting at once against an empty database queue up behind each other: the
 * second sees the first's committed version and has nothing left to do. Re-running against an
 * up-to-date schema is a lock, a read and a commit.
 *
 * One table holds every queue's jobs. `id` is a bigserial: never reused, and it doubles as the
 * FIFO sequence, so jobs due at the same instant come out in id order.
 *
 * `due_at` is the single column claims look at: `run_at` while scheduled, the lease expiry while
 * active, NULL once finished. An expired lease is found by the same index range as a due job,
 * and finished jobs drop out of the claim index entirely (partial index).
 *
 * Instants are epoch milliseconds (bigint) from the server's clock: `now_ms()`, which reads
 * clock_timestamp() rather than now(), so a job added late in a long business transaction is
 * stamped with the instant of the add, not of the transaction's start.
 *
 * Indexes, each paid for on every write, so each has one job:
 *   jobs_due             (queue, due_at, id) partial on due_at: claimDue and the next due instant
 *   jobs_unfinished_key  unique (queue, key) over scheduled/active: a key is held by at most one
 *                        unfinished job, enforced by PostgreSQL itself, and the arbiter index of
 *                        add's INSERT … ON CONFLICT
 *   jobs_key             (queue, key, id): getByKey of finished jobs
 *   jobs_state           (queue, state, id): list pages, counts, dead-letter selections, queues
 *   jobs_retention       (queue, updated_at, id) partial over completed/cancelled: trim
 *
 * The claim's two index walks live in functions (lock_due, next_due) for one reason: they carry
 * their own planner settings. A queue table changes faster than its statistics; right after a
 * burst into a young table the planner believes a queue holds a few dozen rows and would rather
 * gather every due row and sort them than walk jobs_due in order and stop after `limit` — 20 ms
 * instead of 0.1 ms per claim until autovacuum next analyzes the table. With bitmap scans and
 * sorts switched off inside the function, the ordered walk is the only plan left.
 *
 * Wake-ups are NOTIFYs sent by statement-level triggers (the way graphile-worker announces new
 * jobs): every statement that leaves jobs scheduled — an add, a replace, a reschedule, a retry, a
 * release, a redrive, and equally a row a person inserts by hand — notifies `<schema>_due` with
 * "<queue> <earliest run_at>" per queue it touched. Putting it in a trigger means no operation
 * can forget it, and a NOTIFY issued inside a transaction is delivered at commit, so a job added
 * inside a business transaction wakes workers exactly when it becomes visible, and never if the
 * transaction rolls back. Statements that leave no scheduled job (claims, completions, lease
 * extensions) scan their transition table and notify nothing.
 *
 * Migration 2, priorities (flow/priority.ts): a `priority` column, and jobs_due_ranked, a
 * partial index over unfinished jobs whose priority is not 0 (empty, and free, for queues
 * without priorities). lock_due checks it first — one index seek — and only when the queue holds
 * such a job reads each level's due head (level 0 from jobs_due) and merges them by claim rank
 * (due_at − priority × ${PRIORITY_STEP_MS} ms) before locking; otherwise it is the plain walk.
 *
 * Migration 3, rate limits and pauses (flow/rate-limit.ts): queue_flow, a row per queue that has
 * either (ops/flow.ts).
 *
 * Migration 4, job groups (flow/groups.ts): a `group_name` column; a grouped job waits with
 * due_at NULL while scheduled (out of jobs_due) in its own partial index, and a row per group in
 * job_groups holds its counts, turn and bucket; group_defaults holds a queue's default group
 * limits. group-schema.ts says how, and how the claim serves groups in turn. Besides the
 * trigger's wake-ups, a statement that makes a group ready (a completion freeing a place in a
 * group held by its concurrency, a resumed pause) notifies the same channel.
 */
function migrations(schema: string): string[] {
  const s = quoteIdent(schema);
  const channel = quoteLiteral(notifyChannel(schema));
  return [
    `
    CREATE FUNCTION ${s}.now_ms() RETURNS bigint LANGUAGE sql VOLATILE AS
      $$ SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint $$;

    CREATE TABLE ${s}.jobs (
      id               bigserial PRIMARY KEY,
      queue            text    NOT NULL,
      key              text,
      payload          text    NOT NULL,
      state            text    NOT NULL CHECK (state IN ('scheduled', 'active', 'completed', 'dead', 'cancelled')),
      run_at           bigint  NOT NULL,
      due_at           bigint,
      attempts         integer NOT NULL DEFAULT 0,
      max_attempts     integer NOT NULL,
      backoff          text    NOT NULL,
      errors           jsonb   NOT NULL DEFAULT '[]',
      result           text,
      created_at       bigint  NOT NULL,
      updated_at       bigint  NOT NULL,
      lease_token      text,
      lease_expires_at bigint
    );
    CREATE INDEX jobs_due ON ${s}.jobs (queue, due_at, id) WHERE due_at IS NOT NULL;
    CREATE UNIQUE INDEX jobs_unfinished_key ON ${s}.jobs (queue, key)
      WHERE key IS NOT NULL AND state IN ('scheduled', 'active');
    CREATE INDEX jobs_key ON ${s}.jobs (queue, key, id) WHERE key IS NOT NULL;
    CREATE INDEX jobs_state ON ${s}.jobs (queue, state, id);
    CREATE INDEX jobs_retention ON ${s}.jobs (queue, updated_at, id) WHERE state IN ('completed', 'cancelled');

    CREATE FUNCTION ${s}.lock_due(claim_queue text, claim_now bigint, claim_limit integer)
      RETURNS TABLE (id bigint, due_at bigint, state text, attempts integer, max_attempts integer)
      LANGUAGE sql VOLATILE ROWS 50 SET enable_bitmapscan = off SET enable_sort = off AS $$
        SELECT j.id, j.due_at, j.state, j.attempts, j.max_attempts FROM ${s}.jobs j
        WHERE j.queue = claim_queue AND j.due_at IS NOT NULL AND j.due_at <= claim_now
        ORDER BY j.due_at, j.id
        LIMIT claim_limit
        FOR UPDATE OF j SKIP LOCKED
      $$;
    CREATE FUNCTION ${s}.next_due(claim_queue text, after_ids bigint[]) RETURNS bigint
      LANGUAGE sql STABLE SET enable_bitmapscan = off SET enable_sort = off AS $$
        SELECT j.due_at FROM ${s}.jobs j
        WHERE j.queue = claim_queue AND j.due_at IS NOT NULL AND j.id <> ALL (after_ids)
        ORDER BY j.due_at, j.id
        LIMIT 1
      $$;

    CREATE FUNCTION ${s}.notify_due() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      due record;
    BEGIN
      FOR due IN SELECT queue, min(run_at) AS run_at FROM changed_jobs WHERE state = 'scheduled' GROUP BY queue LOOP
        PERFORM pg_notify(${channel}, due.queue || ' ' || due.run_at);
      END LOOP;
      RETURN NULL;
    END
    $$;
    CREATE TRIGGER jobs_notify_insert AFTER INSERT ON ${s}.jobs
      REFERENCING NEW TABLE AS changed_jobs FOR EACH STATEMENT EXECUTE FUNCTION ${s}.notify_due();
    CREATE TRIGGER jobs_notify_update AFTER UPDATE ON ${s}.jobs
      REFERENCING NEW TABLE AS changed_jobs FOR EACH STATEMENT EXECUTE FUNCTION ${s}.notify_due();
    `,
    `
    ALTER TABLE ${s}.jobs ADD COLUMN priority smallint NOT NULL DEFAULT 0;
    CREATE INDEX jobs_due_ranked ON ${s}.jobs (queue, priority, due_at, id) WHERE due_at IS NOT NULL AND priority <> 0;

    CREATE OR REPLACE FUNCTION ${s}.lock_due(claim_queue text, claim_now bigint, claim_limit integer)
      RETURNS TABLE (id bigint, due_at bigint, state text, attempts integer, max_attempts integer)
      LANGUAGE plpgsql VOLATILE ROWS 50 SET enable_bitmapscan = off AS $$
      #variable_conflict use_column
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM ${s}.jobs r WHERE r.queue = claim_queue AND r.due_at IS NOT NULL AND r.priority <> 0) THEN
          RETURN QUERY
            SELECT j.id, j.due_at, j.state, j.attempts, j.max_attempts FROM ${s}.jobs j
            WHERE j.queue = claim_queue AND j.due_at IS NOT NULL AND j.due_at <= claim_now
            ORDER BY j.due_at, j.id
            LIMIT claim_limit
            FOR UPDATE OF j SKIP LOCKED;
          RETURN;
        END IF;
        RETURN QUERY
          WITH candidates AS (
            SELECT c.id FROM (
              SELECT z.id, z.due_at, z.priority FROM (
                SELECT j0.id, j0.due_at, j0.priority FROM ${s}.jobs j0
                WHERE j0.queue = claim_queue AND j0.due_at IS NOT NULL AND j0.due_at <= claim_now AND j0.priority = 0
                ORDER BY j0.due_at, j0.id LIMIT claim_limit) z
              UNION ALL
              SELECT l.id, l.due_at, l.priority
              FROM unnest(ARRAY[${PRIORITY_LEVELS.join(", ")}]::smallint[]) AS p(level),
              LATERAL (
                SELECT jl.id, jl.due_at, jl.priority FROM ${s}.jobs jl
                WHERE jl.queue = claim_queue AND jl.priority = p.level AND jl.due_at IS NOT NULL
                  AND jl.priority <> 0 AND jl.due_at <= claim_now
                ORDER BY jl.due_at, jl.id LIMIT claim_limit) l
            ) c
            ORDER BY c.due_at - c.priority * ${PRIORITY_STEP_MS}::bigint, c.id
            LIMIT claim_limit
          )
          SELECT j.id, j.due_at, j.state, j.attempts, j.max_attempts FROM ${s}.jobs j
          WHERE j.id IN (SELECT id FROM candidates) AND j.due_at IS NOT NULL AND j.due_at <= claim_now
          FOR UPDATE OF j SKIP LOCKED;
      END
    $$;
    `,
    `
    CREATE TABLE ${s}.queue_flow (
      queue        text PRIMARY KEY,
      rate         integer,
      per_ms       bigint,
      tokens       double precision NOT NULL,
      refilled_at  bigint NOT NULL,
      paused_until bigint
    );
    `,
    groupsMigration(s, channel),
  ];
}

export const SCHEMA_VERSION = migrations("x").length;

/** The LISTEN/NOTIFY channel of a schema's wake-ups. */
export function notifyChannel(schema: string): string {
  return `${schema}_due`;
}

/**
 * Brings the schema up to SCHEMA_VERSION on `client` (a dedicated connection, not a pool: the
 * advisory lock and the migration must share one transaction). Refuses a schema written by a
 * newer checkback.
 */
export async function migrate(client: Queryable, schema: string): Promise<void> {
  const s = quoteIdent(schema);
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [`checkback.migrate.${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ version: number | null }>(
      `SELECT max(version) AS version FROM ${s}.migrations`,
    );
    const version = rows[0]?.version ?? 0;
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `the PostgreSQL schema ${schema} has version ${version}, newer than this checkback supports (${SCHEMA_VERSION}); upgrade checkback`,
      );
    }
    const all = migrations(schema);
    for (let next = version; next < SCHEMA_VERSION; next++) {
      await client.query(all[next]!);
      await client.query(`INSERT INTO ${s}.migrations (version) VALUES ($1)`, [next + 1]);
    }
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  }
}

/** Schema names are validated by the store (lower-case letters, digits, _), so quoting is belt and braces. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
