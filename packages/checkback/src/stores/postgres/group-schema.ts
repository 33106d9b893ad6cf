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
 * served_at, ready_at (NULL when the group is not ready: no scheduled job, or held by its
 * concurrency), its own limits if it has them, and its bucket (tokens NULL: full or no rate;
 * paused_until). The queue's default limits for groups are a row of group_defaults, beside the
 * queue's own queue_flow row. Indexes:
 *   job_groups primary key   (queue, group_name): every change to one group
 *   job_groups_ready         (queue, ready_at, group_name) partial on ready_at: the turn order
 *                            of rule 3 (ties by name), and the claim's "is any group ready?"
 *                            probe, one seek into an empty index for a queue without groups
 *   job_groups_busiest       (queue, active DESC, group_name) partial on active > 0:
 *                            busiestGroups and the count of groups with an active job
 * A row is deleted as soon as its group has no unfinished job, no own limits, no pause and a
 * full bucket (or none): millions of groups cost a row each while they have work, nothing after.
 * (A row left with a bucket still refilling stays until its group next changes.)
 *
 * One function recomputes a group: group_refresh (rule 2, rule 6). It reads the head by an
 * index seek, takes the limits in force (own, else the queue's default), and applies
 * group_ready_at, which is groupReadyAt of flow/groups.ts line for line (bucket_refill and
 * bucket_next_start are refill and nextStartAt of flow/rate-limit.ts; the same IEEE double
 * arithmetic in the same order, so JavaScript and SQL agree to the millisecond). It then
 * stores ready_at, or deletes the row, and when the group became ready (or ready earlier) it
 * NOTIFYs the wake-up channel "<queue> <readyAt>": a finish that frees a place in a group held
 * by its concurrency wakes sleeping workers at commit (wake.ts), and never if it rolls back.
 *
 * group_change(queue, group, Δactive, Δscheduled, changed ids, their earliest scheduled run_at)
 * is what every operation that changes grouped jobs calls, once per group, from the same
 * statement that changed them (a CTE over the statement's RETURNING rows, aggregated by group
 * and called in group-name order — see "Locks" below): it locks the row (creating it if need
 * be), moves the counts and refreshes. The head seek excludes the ids the statement changed and
 * folds in their new run_at instead: a function called from a statement may or may not see that
 * statement's own changes, and this way the answer is the same either way.
 *
 * The claim (claim_turns, used by ops/claim-due.ts when some group is ready or the queue has a
 * bucket) takes, in one transaction: the ordinary due entries (lock_due, FOR UPDATE SKIP
 * LOCKED, ranked by due_at − priority × step), and the ready groups by (ready_at, name), locked
 * FOR UPDATE SKIP LOCKED; it merges them by that one number (ties: ungrouped first), and each
 * group turn starts its head (the head row also FOR UPDATE SKIP LOCKED), charges its bucket,
 * sets served_at and refreshes it. Groups served come back with ready_at ≥ now, after every
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
      ready_at     bigint,
      own_limits   boolean NOT NULL DEFAULT false,
      concurrency  integer,
      rate         integer,
      per_ms       bigint,
      tokens       double precision,
      refilled_at  bigint,
      paused_until bigint,
      PRIMARY KEY (queue, group_name)
    );
    CREATE INDEX job_groups_ready ON ${s}.job_groups (queue, ready_at, group_name) WHERE ready_at IS NOT NULL;
    CREATE INDEX job_groups_busiest ON ${s}.job_groups (queue, active DESC, group_name) WHERE active > 0;

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

    CREATE FUNCTION ${s}.group_refresh(rq text, rg text, excluded bigint[], extra_run_at bigint)
      RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
      DECLARE
        g ${s}.job_groups%ROWTYPE;
        d ${s}.group_defaults%ROWTYPE;
        k integer;
        r integer;
        p bigint;
        head bigint;
        ready bigint;
        clock bigint := ${s}.now_ms();
      BEGIN
        SELECT * INTO g FROM ${s}.job_groups WHERE queue = rq AND group_name = rg;
        IF NOT FOUND THEN RETURN NULL; END IF;
        IF g.own_limits THEN
          k := g.concurrency; r := g.rate; p := g.per_ms;
        ELSE
          SELECT * INTO d FROM ${s}.group_defaults WHERE queue = rq;
          k := d.concurrency; r := d.rate; p := d.per_ms;
        END IF;
        IF g.scheduled > 0 THEN
          SELECT j.run_at INTO head FROM ${s}.jobs j
          WHERE j.queue = rq AND j.group_name = rg AND j.state = 'scheduled'
            AND (excluded IS NULL OR j.id <> ALL (excluded))
          ORDER BY j.run_at, j.id LIMIT 1;
          head := least(head, extra_run_at);
        END IF;
        -- A bucket without a rate, or full again, is no state worth keeping.
        IF r IS NULL OR (g.tokens IS NOT NULL AND ${s}.bucket_refill(g.tokens, g.refilled_at, r, p, clock) >= r) THEN
          g.tokens := NULL; g.refilled_at := NULL;
        END IF;
        IF g.paused_until IS NOT NULL AND g.paused_until <= clock THEN g.paused_until := NULL; END IF;
        IF g.active <= 0 AND g.scheduled <= 0 AND NOT g.own_limits AND g.paused_until IS NULL AND g.tokens IS NULL THEN
          DELETE FROM ${s}.job_groups WHERE queue = rq AND group_name = rg;
          RETURN NULL;
        END IF;
        ready := ${s}.group_ready_at(head, g.served_at, g.active, k, g.tokens, g.refilled_at, r, p, g.paused_until);
        UPDATE ${s}.job_groups
        SET ready_at = ready, tokens = g.tokens, refilled_at = g.refilled_at, paused_until = g.paused_until
        WHERE queue = rq AND group_name = rg;
        IF ready IS NOT NULL AND (g.ready_at IS NULL OR ready < g.ready_at) THEN
          PERFORM pg_notify(${channel}, rq || ' ' || ready);
        END IF;
        RETURN ready;
      END
      $$;

    CREATE FUNCTION ${s}.group_change(rq text, rg text, d_active integer, d_scheduled integer,
                                      excluded bigint[], extra_run_at bigint)
      RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
      BEGIN
        INSERT INTO ${s}.job_groups AS g (queue, group_name, active, scheduled)
        VALUES (rq, rg, greatest(0, d_active), greatest(0, d_scheduled))
        ON CONFLICT (queue, group_name) DO UPDATE
        SET active = greatest(0, g.active + d_active), scheduled = greatest(0, g.scheduled + d_scheduled);
        RETURN ${s}.group_refresh(rq, rg, excluded, extra_run_at);
      END
      $$;

    -- One group turn (rule 3): start the head of group rg, whose row the caller holds locked.
    -- Returns the started job's id, or NULL when the group cannot start one now (then it is
    -- refreshed, so its ready_at moves past now or away).
    CREATE FUNCTION ${s}.group_serve(rq text, rg text, clock bigint, lease_ms bigint)
      RETURNS bigint LANGUAGE plpgsql VOLATILE SET enable_bitmapscan = off AS $$
      DECLARE
        g ${s}.job_groups%ROWTYPE;
        d ${s}.group_defaults%ROWTYPE;
        k integer;
        r integer;
        p bigint;
        head_id bigint;
      BEGIN
        SELECT * INTO g FROM ${s}.job_groups WHERE queue = rq AND group_name = rg;
        IF NOT FOUND THEN RETURN NULL; END IF;
        IF g.own_limits THEN
          k := g.concurrency; r := g.rate; p := g.per_ms;
        ELSE
          SELECT * INTO d FROM ${s}.group_defaults WHERE queue = rq;
          k := d.concurrency; r := d.rate; p := d.per_ms;
        END IF;
        IF (k IS NOT NULL AND g.active >= k)
           OR (g.paused_until IS NOT NULL AND g.paused_until > clock)
           OR (r IS NOT NULL AND ${s}.bucket_refill(g.tokens, g.refilled_at, r, p, clock) < 1) THEN
          PERFORM ${s}.group_refresh(rq, rg, NULL, NULL);
          RETURN NULL;
        END IF;
        SELECT j.id INTO head_id FROM ${s}.jobs j
        WHERE j.queue = rq AND j.group_name = rg AND j.state = 'scheduled' AND j.run_at <= clock
        ORDER BY j.run_at, j.id LIMIT 1
        FOR UPDATE OF j SKIP LOCKED;
        IF head_id IS NULL THEN
          PERFORM ${s}.group_refresh(rq, rg, NULL, NULL);
          RETURN NULL;
        END IF;
        UPDATE ${s}.jobs SET state = 'active', attempts = attempts + 1, lease_token = gen_random_uuid()::text,
          lease_expires_at = clock + lease_ms, due_at = clock + lease_ms, run_at = least(run_at, clock), updated_at = clock
        WHERE id = head_id;
        UPDATE ${s}.job_groups SET active = active + 1, scheduled = greatest(0, scheduled - 1), served_at = clock,
          tokens = CASE WHEN r IS NULL THEN NULL ELSE ${s}.bucket_refill(tokens, refilled_at, r, p, clock) - 1 END,
          refilled_at = CASE WHEN r IS NULL THEN NULL ELSE clock END
        WHERE queue = rq AND group_name = rg;
        PERFORM ${s}.group_refresh(rq, rg, NULL, NULL);
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
      BEGIN
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
        SELECT array_agg(r.group_name ORDER BY r.ready_at, r.group_name), array_agg(r.ready_at ORDER BY r.ready_at, r.group_name)
        INTO turn_names, turn_ready
        FROM (SELECT g.group_name, g.ready_at FROM ${s}.job_groups g
              WHERE g.queue = claim_queue AND g.ready_at IS NOT NULL AND g.ready_at <= clock
              ORDER BY g.ready_at, g.group_name LIMIT claim_limit
              FOR UPDATE SKIP LOCKED) r;
        FOR t IN 1 .. coalesce(cardinality(turn_names), 0) LOOP
          WHILE n < claim_limit AND i <= cardinality(due_ids) AND due_ranks[i] <= turn_ready[t] LOOP
            n := n + 1; taken_ids := taken_ids || due_ids[i]; taken_ords := taken_ords || n; i := i + 1;
          END LOOP;
          EXIT WHEN n >= claim_limit;
          started := ${s}.group_serve(claim_queue, turn_names[t], clock, lease_ms);
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
          SELECT array_agg(r.group_name ORDER BY r.ready_at, r.group_name) INTO turn_names
          FROM (SELECT g.group_name, g.ready_at FROM ${s}.job_groups g
                WHERE g.queue = claim_queue AND g.ready_at IS NOT NULL AND g.ready_at <= clock
                ORDER BY g.ready_at, g.group_name LIMIT claim_limit - n
                FOR UPDATE SKIP LOCKED) r;
          EXIT WHEN turn_names IS NULL;
          progressed := false;
          FOREACH name IN ARRAY turn_names LOOP
            EXIT WHEN n >= claim_limit;
            started := ${s}.group_serve(claim_queue, name, clock, lease_ms);
            IF started IS NOT NULL THEN
              n := n + 1; started_ids := started_ids || started; started_ords := started_ords || n; progressed := true;
            END IF;
          END LOOP;
          EXIT WHEN NOT progressed;
        END LOOP;

        -- 4. Lease the ordinary entries taken (an active one is an expired lease claimed again).
        IF cardinality(taken_ids) > 0 THEN
          UPDATE ${s}.jobs j SET state = 'active', attempts = j.attempts + 1,
            errors = CASE WHEN j.state = 'active'
                          THEN j.errors || jsonb_build_array(jsonb_build_object('attempt', j.attempts, 'at', clock, 'message', 'lease expired'))
                          ELSE j.errors END,
            lease_token = gen_random_uuid()::text, lease_expires_at = clock + lease_ms, due_at = clock + lease_ms,
            run_at = least(j.run_at, clock), updated_at = clock
          WHERE j.id = ANY (taken_ids);
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
