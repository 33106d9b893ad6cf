import { PRIORITY_STEP_MS } from "../../flow/priority.js";

/**
 * Migration 4, job groups (flow/groups.ts states THE RULE; this is how PostgreSQL keeps it).
 *
 * Where a grouped job waits. `jobs.group_name` holds the group. While a grouped job is
 * SCHEDULED its `due_at` is NULL, so it is not in jobs_due at all: the ordinary claim walk,
 * next_due and every index range on due_at never see it, and an ungrouped queue's claim reads
 * exactly what it read before. It waits in jobs_group_head, a partial index over scheduled
 * grouped jobs (queue, group_name, run_at, id): a group's head (rule 1's (runAt, insertion)
 * order) is one index seek. While a grouped job is ACTIVE its due_at is the lease expiry like
 * any other job's, so a lease that runs out is found and claimed again by the ordinary walk
 * (rule 5); once finished, due_at is NULL as always.
 *
 * A group's state: a row of job_groups per (queue, group) — active and scheduled counts,
 * served_at and served_turn (that start's place in the sequence group_turns), ready_at (NULL
 * when the group is not ready: no scheduled job, or held by its concurrency), turn (rule 3's
 * tie: served_turn when the group is ready at the very instant it was served, else 0, so it goes
 * behind the groups already waiting at that instant, in the order served), its head
 * (head_run_at, head_id; head_id NULL when a statement's own new job may be first and its id is
 * not known), its own limits if it has them, and its bucket: tokens, refilled_at and the limit
 * they were counted under (bucket_rate, bucket_per_ms; all NULL without a rate), paused_until. The queue's default limits for groups are a row of group_defaults, beside the
 * queue's own queue_flow row. Indexes:
 *   job_groups primary key   (queue, group_name): every change to one group
 *   job_groups_ready         (queue, ready_at, turn, group_name) partial on ready_at: the turn
 *                            order of rule 3, and the claim's "is any group ready?"
 *                            probe, one seek into an empty index for a queue without groups
 *   job_groups_busiest       (queue, active DESC, group_name) partial on active > 0:
 *                            busiestGroups and the count of groups with an active job
 *   job_groups_idle          (queue, refilled_at) partial on rows with no job and no own
 *                            limits: what trim sweeps (empty while no group is rate limited)
 * A row is deleted as soon as its group has no unfinished job, no own limits, no pause and a
 * full bucket (or none): millions of groups cost a row each while they have work, nothing after.
 * A row kept only for a bucket still refilling (or a pause) is deleted by trim once the bucket is
 * full again (ops/trim.ts); deleting it sooner would let the group start again on a full bucket.
 *
 * One function recomputes a group: group_settle (rule 2, rule 6). Given the group's row as it
 * is to be (counts, served_at, bucket), it reads the head by an index seek, takes the limits in
 * force (own, else the queue's default), and applies group_ready_at, which is groupReadyAt of
 * flow/groups.ts line for line (bucket_refill and bucket_next_start are refill and nextStartAt
 * of flow/rate-limit.ts; the same IEEE double arithmetic in the same order, so JavaScript and SQL
 * agree to the millisecond). It then writes the row once — update, insert, or delete — and when
 * the group became ready (or ready earlier) it NOTIFYs the wake-up channel "<queue> <readyAt>": a
 * finish that frees a place in a group held by its concurrency wakes sleeping workers at commit
 * (wake.ts), and never if it rolls back.
 *
 * group_change(queue, group, Δactive, Δscheduled, changed ids, their earliest scheduled run_at)
 * is what every operation that changes grouped jobs calls, once per group, from the same
 * statement that changed them (a CTE over the statement's RETURNING rows, aggregated by group
 * and called in group-name order — see "Locks" below; ops/group-changes.ts): it locks the row (or
 * starts one), moves the counts and settles. The head seek excludes the ids the statement
 * changed and folds in their new run_at instead: a function called from a statement may or may
 * not see that statement's own changes, and this way the answer is the same either way.
 * group_refresh(queue, group) is group_change with no change: after a limit or a pause is set.
 *
 * The claim (claim_turns, used by ops/claim-due.ts when some group is ready or the queue has a
 * bucket) takes, in one transaction: the ordinary due entries (lock_due, FOR UPDATE SKIP
 * LOCKED, ranked by due_at − priority × step), and the ready groups by (ready_at, turn, name),
 * locked FOR UPDATE SKIP LOCKED; it merges them by that one number (ties: ungrouped first), and each
 * group turn starts its head (the head row also FOR UPDATE SKIP LOCKED), charges its bucket,
 * sets served_at and settles it. Groups served come back with ready_at ≥ now, after every
 * ordinary entry (all ranked ≤ now) — so the claim then makes further passes over the groups
 * that are ready again, one job each per pass, until `limit` or nothing is ready (rule 3).
 *
 * Locks, and why SKIP LOCKED where it is. The active count and the bucket of a group are only
 * changed under its row lock, so concurrency K and the group's rate hold exactly, however many
 * claimers run. Claimers lock ready group rows with SKIP LOCKED: a second claimer does not queue
 * behind the first one's groups, it serves the next ready groups (for one group the order across
 * two concurrent claims is then "whichever committed", as for ordinary jobs). A claimer never
 * waits for a job row (SKIP LOCKED on heads and due entries). Operations that change jobs lock
 * the job rows first and their groups afterwards, several groups always in name order; the only
 * group rows a claim waits for are those of jobs it buries (lease expired, no attempts left),
 * locked in name order before it locks any group to serve. So no two transactions can wait for
 * each other in a cycle.
 */
/** group_settle's answer when it lost the race to insert a new group's row (not an instant). */
const LOST = "(-9223372036854775807 - 1)";

export function groupsMigration(s: string, channel: string): string {
  return `
    ALTER TABLE ${s}.jobs ADD COLUMN group_name text;
    CREATE INDEX jobs_group_head ON ${s}.jobs (queue, group_name, run_at, id)
      WHERE state = 'scheduled' AND group_name IS NOT NULL;

    CREATE TABLE ${s}.job_groups (
      queue        text    NOT NULL,
      group_name   text    NOT NULL,
      active       integer NOT NULL DEFAULT 0,
      scheduled    integer NOT NULL DEFAULT 0,
      served_at    bigint,
      served_turn  bigint,
      ready_at     bigint,
      turn         bigint  NOT NULL DEFAULT 0,
      head_run_at  bigint,
      head_id      bigint,
      own_limits   boolean NOT NULL DEFAULT false,
      concurrency  integer,
      rate         integer,
      per_ms       bigint,
      tokens       double precision,
      refilled_at  bigint,
      bucket_rate  integer,
      bucket_per_ms bigint,
      paused_until bigint,
      PRIMARY KEY (queue, group_name)
    );
    CREATE INDEX job_groups_ready ON ${s}.job_groups (queue, ready_at, turn, group_name) WHERE ready_at IS NOT NULL;
    CREATE SEQUENCE ${s}.group_turns;
    CREATE INDEX job_groups_busiest ON ${s}.job_groups (queue, active DESC, group_name) WHERE active > 0;
    CREATE INDEX job_groups_idle ON ${s}.job_groups (queue, refilled_at)
      WHERE active = 0 AND scheduled = 0 AND NOT own_limits;

    CREATE TABLE ${s}.group_defaults (
      queue       text PRIMARY KEY,
      concurrency integer,
      rate        integer,
      per_ms      bigint
    );

    CREATE FUNCTION ${s}.bucket_refill(tokens double precision, refilled_at bigint, rate integer, per_ms bigint, at_ms bigint)
      RETURNS double precision LANGUAGE sql IMMUTABLE AS $$
        SELECT CASE WHEN rate IS NULL THEN 'Infinity'::double precision
          ELSE least(rate::double precision, coalesce(tokens, rate::double precision)
                     + (greatest(0, at_ms - coalesce(refilled_at, at_ms))::double precision * rate) / per_ms) END
      $$;

    CREATE FUNCTION ${s}.bucket_next_start(tokens double precision, refilled_at bigint, rate integer, per_ms bigint,
                                           paused_until bigint, from_at bigint)
      RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
      DECLARE
        at_ms bigint := from_at;
        left_now double precision;
      BEGIN
        IF paused_until IS NOT NULL AND paused_until > at_ms THEN at_ms := paused_until; END IF;
        IF rate IS NOT NULL THEN
          left_now := ${s}.bucket_refill(tokens, refilled_at, rate, per_ms, at_ms);
          IF left_now < 1 THEN at_ms := at_ms + ceil(((1 - left_now) * per_ms) / rate)::bigint; END IF;
        END IF;
        RETURN at_ms;
      END
      $$;

    CREATE FUNCTION ${s}.group_ready_at(head bigint, served_at bigint, active integer, concurrency integer,
                                        tokens double precision, refilled_at bigint, rate integer, per_ms bigint,
                                        paused_until bigint)
      RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
      DECLARE
        at_ms bigint;
        from_at bigint;
      BEGIN
        IF head IS NULL THEN RETURN NULL; END IF;
        IF concurrency IS NOT NULL AND active >= concurrency THEN RETURN NULL; END IF;
        at_ms := greatest(head, served_at);
        IF rate IS NOT NULL OR paused_until IS NOT NULL THEN
          from_at := at_ms;
          IF rate IS NOT NULL AND ${s}.bucket_refill(tokens, refilled_at, rate, per_ms, greatest(at_ms, refilled_at)) < 1 THEN
            from_at := greatest(at_ms, refilled_at);
          END IF;
          at_ms := greatest(at_ms, ${s}.bucket_next_start(tokens, refilled_at, rate, per_ms, paused_until, from_at));
        END IF;
        RETURN at_ms;
      END
      $$;

    -- The group's bucket under the limit in force (r per p): the tokens were counted under
    -- (bucket_rate, bucket_per_ms); a change of limit, own or default, reaches the bucket here,
    -- as withLimit of flow/rate-limit.ts: tokens carried over (refilled to now under the old
    -- limit), never above the new bucket; a group's first bucket is full; no limit, no tokens.
    CREATE FUNCTION ${s}.group_bucket(g ${s}.job_groups, r integer, p bigint, clock bigint)
      RETURNS ${s}.job_groups LANGUAGE plpgsql IMMUTABLE AS $$
      BEGIN
        IF r IS NULL THEN
          g.tokens := NULL; g.refilled_at := NULL; g.bucket_rate := NULL; g.bucket_per_ms := NULL;
        ELSIF g.tokens IS NULL OR g.bucket_rate IS NULL THEN
          g.tokens := r; g.refilled_at := clock; g.bucket_rate := r; g.bucket_per_ms := p;
        ELSIF g.bucket_rate <> r OR g.bucket_per_ms <> p THEN
          g.tokens := least(r::double precision,
                            ${s}.bucket_refill(g.tokens, g.refilled_at, g.bucket_rate, g.bucket_per_ms, clock));
          g.refilled_at := clock; g.bucket_rate := r; g.bucket_per_ms := p;
        END IF;
        RETURN g;
      END
      $$;

    -- The one recomputation of a group (rule 2): given its row as it is to be (counts, served_at
    -- and bucket already changed, in memory), the limits in force and the instant, find the head
    -- (unless the caller knows it: seek false, g.head_* set), compute ready_at and write the row
    -- ONCE: update it, insert it (fresh: the group had no row),
    -- or delete it when nothing is left worth keeping. The caller holds the row's lock (or, for a
    -- fresh row, inserts it: a concurrent insert of the same group makes it answer LOST and the
    -- caller starts over on the row that won). NOTIFYs when the group became ready, or earlier.
    CREATE FUNCTION ${s}.group_settle(g ${s}.job_groups, fresh boolean, k integer, r integer, p bigint,
                                      excluded bigint[], extra_run_at bigint, clock bigint, was_ready bigint,
                                      seek boolean)
      RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
      DECLARE
        ready bigint;
        place bigint;
        written integer;
      BEGIN
        IF seek THEN
          g.head_run_at := NULL; g.head_id := NULL;
          IF g.scheduled > 0 THEN
            SELECT j.run_at, j.id INTO g.head_run_at, g.head_id FROM ${s}.jobs j
            WHERE j.queue = g.queue AND j.group_name = g.group_name AND j.state = 'scheduled'
              AND (excluded IS NULL OR j.id <> ALL (excluded))
            ORDER BY j.run_at, j.id LIMIT 1;
            -- A job of this statement that may be first now: its id is not known here (serve seeks it).
            IF extra_run_at <= g.head_run_at OR (g.head_run_at IS NULL AND extra_run_at IS NOT NULL) THEN
              g.head_run_at := extra_run_at; g.head_id := NULL;
            END IF;
          END IF;
        END IF;
        g := ${s}.group_bucket(g, r, p, clock);
        IF g.paused_until IS NOT NULL AND g.paused_until <= clock THEN g.paused_until := NULL; END IF;
        -- Nothing worth keeping: no job, no own limits, no pause, a full bucket (or none).
        IF g.active <= 0 AND g.scheduled <= 0 AND NOT g.own_limits AND g.paused_until IS NULL
           AND (r IS NULL OR ${s}.bucket_refill(g.tokens, g.refilled_at, r, p, clock) >= r) THEN
          IF NOT fresh THEN DELETE FROM ${s}.job_groups WHERE queue = g.queue AND group_name = g.group_name; END IF;
          RETURN NULL;
        END IF;
        ready := ${s}.group_ready_at(g.head_run_at, g.served_at, g.active, k, g.tokens, g.refilled_at, r, p, g.paused_until);
        -- Rule 3's tie: a group ready at the instant it was served goes behind the groups waiting
        -- at that instant, in the order they were served (0: not behind).
        place := coalesce(CASE WHEN ready = g.served_at THEN g.served_turn END, 0);
        IF fresh THEN
          INSERT INTO ${s}.job_groups (queue, group_name, active, scheduled, served_at, served_turn, ready_at, turn,
                                       head_run_at, head_id, own_limits, concurrency, rate, per_ms, tokens,
                                       refilled_at, bucket_rate, bucket_per_ms, paused_until)
          VALUES (g.queue, g.group_name, g.active, g.scheduled, g.served_at, g.served_turn, ready, place,
                  g.head_run_at, g.head_id, g.own_limits, g.concurrency, g.rate, g.per_ms, g.tokens,
                  g.refilled_at, g.bucket_rate, g.bucket_per_ms, g.paused_until)
          ON CONFLICT (queue, group_name) DO NOTHING;
          GET DIAGNOSTICS written = ROW_COUNT;
          IF written = 0 THEN RETURN ${LOST}; END IF;
        ELSE
          UPDATE ${s}.job_groups
          SET active = g.active, scheduled = g.scheduled, served_at = g.served_at, served_turn = g.served_turn,
              ready_at = ready, turn = place, head_run_at = g.head_run_at, head_id = g.head_id,
              own_limits = g.own_limits, concurrency = g.concurrency, rate = g.rate, per_ms = g.per_ms,
              tokens = g.tokens, refilled_at = g.refilled_at, bucket_rate = g.bucket_rate,
              bucket_per_ms = g.bucket_per_ms, paused_until = g.paused_until
          WHERE queue = g.queue AND group_name = g.group_name;
        END IF;
        IF ready IS NOT NULL AND (was_ready IS NULL OR ready < was_ready) THEN
          PERFORM pg_notify(${channel}, g.queue || ' ' || ready);
        END IF;
        RETURN ready;
      END
      $$;

    -- What every operation that changes a group's jobs calls: lock the row (or start one), move
    -- the counts, settle. Returns the group's new ready_at.
    CREATE FUNCTION ${s}.group_change(rq text, rg text, d_active integer, d_scheduled integer,
                                      excluded bigint[], extra_run_at bigint)
      RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
      DECLARE
        g ${s}.job_groups%ROWTYPE;
        d ${s}.group_defaults%ROWTYPE;
        fresh boolean;
        was_ready bigint;
        ready bigint;
      BEGIN
        LOOP
          SELECT * INTO g FROM ${s}.job_groups WHERE queue = rq AND group_name = rg FOR UPDATE;
          fresh := NOT FOUND;
          IF fresh THEN
            g.queue := rq; g.group_name := rg; g.active := 0; g.scheduled := 0; g.own_limits := false;
          END IF;
          was_ready := g.ready_at;
          g.active := greatest(0, g.active + d_active);
          g.scheduled := greatest(0, g.scheduled + d_scheduled);
          IF g.own_limits THEN
            ready := ${s}.group_settle(g, fresh, g.concurrency, g.rate, g.per_ms, excluded, extra_run_at,
                                       ${s}.now_ms(), was_ready, true);
          ELSE
            SELECT * INTO d FROM ${s}.group_defaults WHERE queue = rq;
            ready := ${s}.group_settle(g, fresh, d.concurrency, d.rate, d.per_ms, excluded, extra_run_at,
                                       ${s}.now_ms(), was_ready, true);
          END IF;
          IF ready IS DISTINCT FROM ${LOST} THEN RETURN ready; END IF;
        END LOOP;
      END
      $$;

    -- A group recomputed after its limits or pause changed (ops/groups.ts), or by name.
    CREATE FUNCTION ${s}.group_refresh(rq text, rg text)
      RETURNS bigint LANGUAGE sql VOLATILE AS $$
        SELECT ${s}.group_change(rq, rg, 0, 0, NULL, NULL)
      $$;

    -- One group turn (rule 3): start the head of group rg, whose row the caller holds locked, on
    -- the limits k (concurrency), r per p (rate) in force. Returns the started job's id, or NULL
    -- when the group cannot start one now (it is then settled again, so its ready_at moves past
    -- now or away). One write of the group; the job itself is leased by the caller, in one UPDATE
    -- with every other job the claim starts, so "started" (the ids this claim has started so far)
    -- are still 'scheduled' in the table and are skipped explicitly by any seek from the start.
    --
    -- The head is taken by primary key from the row's head_id (kept by every settle), and the
    -- next head is sought from just after it: never from the group's start, where the index
    -- still holds the entries of the jobs this claim (or a recent one) just started, which an
    -- index scan would step over one by one until they are cleaned up — a cost growing with
    -- every turn of a long claim. A head_id that no longer names a scheduled job (cancelled,
    -- rescheduled, locked) falls back to the seek from the start.
    CREATE FUNCTION ${s}.group_serve(rq text, rg text, k integer, r integer, p bigint, clock bigint, started bigint[])
      RETURNS bigint LANGUAGE plpgsql VOLATILE SET enable_bitmapscan = off AS $$
      DECLARE
        g ${s}.job_groups%ROWTYPE;
        head_id bigint;
        head_run bigint;
        was_ready bigint;
      BEGIN
        SELECT * INTO g FROM ${s}.job_groups WHERE queue = rq AND group_name = rg;
        IF NOT FOUND THEN RETURN NULL; END IF;
        was_ready := g.ready_at;
        IF g.own_limits THEN k := g.concurrency; r := g.rate; p := g.per_ms; END IF;
        g := ${s}.group_bucket(g, r, p, clock);
        IF NOT ((k IS NOT NULL AND g.active >= k)
                OR (g.paused_until IS NOT NULL AND g.paused_until > clock)
                OR (r IS NOT NULL AND ${s}.bucket_refill(g.tokens, g.refilled_at, r, p, clock) < 1)) THEN
          IF g.head_id IS NOT NULL AND g.head_run_at <= clock THEN
            SELECT j.id, j.run_at INTO head_id, head_run FROM ${s}.jobs j
            WHERE j.id = g.head_id AND j.queue = rq AND j.group_name = rg AND j.state = 'scheduled'
              AND j.run_at = g.head_run_at
            FOR UPDATE OF j SKIP LOCKED;
          END IF;
          IF head_id IS NULL THEN
            SELECT j.id, j.run_at INTO head_id, head_run FROM ${s}.jobs j
            WHERE j.queue = rq AND j.group_name = rg AND j.state = 'scheduled' AND j.run_at <= clock
              AND j.id <> ALL (started)
            ORDER BY j.run_at, j.id LIMIT 1
            FOR UPDATE OF j SKIP LOCKED;
          END IF;
        END IF;
        IF head_id IS NULL THEN
          PERFORM ${s}.group_settle(g, false, k, r, p, started, NULL, clock, was_ready, true);
          RETURN NULL;
        END IF;
        g.active := g.active + 1;
        g.scheduled := greatest(0, g.scheduled - 1);
        g.served_at := clock;
        g.served_turn := nextval('${s}.group_turns');
        IF r IS NOT NULL THEN
          g.tokens := ${s}.bucket_refill(g.tokens, g.refilled_at, r, p, clock) - 1;
          g.refilled_at := clock;
        END IF;
        g.head_run_at := NULL; g.head_id := NULL;
        IF g.scheduled > 0 THEN
          SELECT j.run_at, j.id INTO g.head_run_at, g.head_id FROM ${s}.jobs j
          WHERE j.queue = rq AND j.group_name = rg AND j.state = 'scheduled' AND (j.run_at, j.id) > (head_run, head_id)
          ORDER BY j.run_at, j.id LIMIT 1;
        END IF;
        PERFORM ${s}.group_settle(g, false, k, r, p, NULL, NULL, clock, was_ready, false);
        RETURN head_id;
      END
      $$;

    -- The claim when groups take turns or the queue has a bucket (ops/claim-due.ts).
    CREATE FUNCTION ${s}.claim_turns(claim_queue text, claim_limit integer, lease_ms bigint)
      RETURNS TABLE (job ${s}.jobs, ord integer, claim_now bigint, next_due_at bigint)
      LANGUAGE plpgsql VOLATILE SET enable_bitmapscan = off AS $$
      #variable_conflict use_column
      DECLARE
        clock bigint := ${s}.now_ms();
        due_ids bigint[];
        due_ranks bigint[];
        buried bigint[];
        turn_names text[];
        turn_ready bigint[];
        name text;
        started bigint;
        n integer := 0;
        i integer := 1;
        t integer;
        taken_ids bigint[] := '{}';
        taken_ords integer[] := '{}';
        started_ids bigint[] := '{}';
        started_ords integer[] := '{}';
        progressed boolean;
        next_at bigint;
        dead record;
        d ${s}.group_defaults%ROWTYPE;
      BEGIN
        SELECT * INTO d FROM ${s}.group_defaults WHERE queue = claim_queue;
        -- 1. The ordinary due entries, locked; the expired leases with no attempt left go dead now,
        --    before any group row is locked to serve (see "Locks").
        SELECT coalesce(array_agg(l.id ORDER BY l.due_at - coalesce(j.priority, 0) * ${PRIORITY_STEP_MS}::bigint, l.id)
                          FILTER (WHERE NOT (l.state = 'active' AND l.attempts >= l.max_attempts)), '{}'),
               coalesce(array_agg(l.due_at - coalesce(j.priority, 0) * ${PRIORITY_STEP_MS}::bigint
                                  ORDER BY l.due_at - coalesce(j.priority, 0) * ${PRIORITY_STEP_MS}::bigint, l.id)
                          FILTER (WHERE NOT (l.state = 'active' AND l.attempts >= l.max_attempts)), '{}'),
               coalesce(array_agg(l.id) FILTER (WHERE l.state = 'active' AND l.attempts >= l.max_attempts), '{}')
        INTO due_ids, due_ranks, buried
        FROM ${s}.lock_due(claim_queue, clock, claim_limit) l LEFT JOIN ${s}.jobs j ON j.id = l.id;
        IF cardinality(buried) > 0 THEN
          UPDATE ${s}.jobs SET state = 'dead',
            errors = errors || jsonb_build_array(jsonb_build_object('attempt', attempts, 'at', clock, 'message', 'lease expired')),
            lease_token = NULL, lease_expires_at = NULL, due_at = NULL, updated_at = clock
          WHERE id = ANY (buried);
          FOR dead IN SELECT group_name, count(*)::integer AS n FROM ${s}.jobs
                      WHERE id = ANY (buried) AND group_name IS NOT NULL GROUP BY group_name ORDER BY group_name LOOP
            PERFORM ${s}.group_change(claim_queue, dead.group_name, -dead.n, 0, NULL, NULL);
          END LOOP;
        END IF;

        -- 2. First pass: ready groups and ordinary entries merged by one number.
        SELECT array_agg(r.group_name ORDER BY r.ready_at, r.turn, r.group_name),
               array_agg(r.ready_at ORDER BY r.ready_at, r.turn, r.group_name)
        INTO turn_names, turn_ready
        FROM (SELECT g.group_name, g.ready_at, g.turn FROM ${s}.job_groups g
              WHERE g.queue = claim_queue AND g.ready_at IS NOT NULL AND g.ready_at <= clock
              ORDER BY g.ready_at, g.turn, g.group_name LIMIT claim_limit
              FOR UPDATE SKIP LOCKED) r;
        FOR t IN 1 .. coalesce(cardinality(turn_names), 0) LOOP
          WHILE n < claim_limit AND i <= cardinality(due_ids) AND due_ranks[i] <= turn_ready[t] LOOP
            n := n + 1; taken_ids := taken_ids || due_ids[i]; taken_ords := taken_ords || n; i := i + 1;
          END LOOP;
          EXIT WHEN n >= claim_limit;
          started := ${s}.group_serve(claim_queue, turn_names[t], d.concurrency, d.rate, d.per_ms, clock, started_ids);
          IF started IS NOT NULL THEN
            n := n + 1; started_ids := started_ids || started; started_ords := started_ords || n;
          END IF;
        END LOOP;
        -- Groups served come back at ready_at ≥ now: every ordinary entry (ranked ≤ now) goes first.
        WHILE n < claim_limit AND i <= cardinality(due_ids) LOOP
          n := n + 1; taken_ids := taken_ids || due_ids[i]; taken_ords := taken_ords || n; i := i + 1;
        END LOOP;

        -- 3. Further passes over the groups ready again, one job each per pass.
        LOOP
          EXIT WHEN n >= claim_limit;
          SELECT array_agg(r.group_name ORDER BY r.ready_at, r.turn, r.group_name) INTO turn_names
          FROM (SELECT g.group_name, g.ready_at, g.turn FROM ${s}.job_groups g
                WHERE g.queue = claim_queue AND g.ready_at IS NOT NULL AND g.ready_at <= clock
                ORDER BY g.ready_at, g.turn, g.group_name LIMIT claim_limit - n
                FOR UPDATE SKIP LOCKED) r;
          EXIT WHEN turn_names IS NULL;
          progressed := false;
          FOREACH name IN ARRAY turn_names LOOP
            EXIT WHEN n >= claim_limit;
            started := ${s}.group_serve(claim_queue, name, d.concurrency, d.rate, d.per_ms, clock, started_ids);
            IF started IS NOT NULL THEN
              n := n + 1; started_ids := started_ids || started; started_ords := started_ords || n; progressed := true;
            END IF;
          END LOOP;
          EXIT WHEN NOT progressed;
        END LOOP;

        -- 4. Lease every job taken: the ordinary entries (an active one is an expired lease claimed
        --    again) and the groups' heads.
        IF cardinality(taken_ids) + cardinality(started_ids) > 0 THEN
          UPDATE ${s}.jobs j SET state = 'active', attempts = j.attempts + 1,
            errors = CASE WHEN j.state = 'active'
                          THEN j.errors || jsonb_build_array(jsonb_build_object('attempt', j.attempts, 'at', clock, 'message', 'lease expired'))
                          ELSE j.errors END,
            lease_token = gen_random_uuid()::text, lease_expires_at = clock + lease_ms, due_at = clock + lease_ms,
            run_at = least(j.run_at, clock), updated_at = clock
          WHERE j.id = ANY (taken_ids || started_ids);
        END IF;

        -- 5. Rule 4: the earliest of the ordinary due head and the first ready group.
        next_at := least(${s}.next_due(claim_queue, '{}'),
                         (SELECT g.ready_at FROM ${s}.job_groups g WHERE g.queue = claim_queue AND g.ready_at IS NOT NULL
                          ORDER BY g.ready_at LIMIT 1));
        RETURN QUERY
          SELECT j, o.ord, clock, next_at
          FROM unnest(taken_ids || started_ids, taken_ords || started_ords) AS o(id, ord)
          JOIN ${s}.jobs j ON j.id = o.id;
        RETURN QUERY SELECT NULL::${s}.jobs, 0, clock, next_at;
      END
      $$;
  `;
}
