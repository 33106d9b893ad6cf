import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { DEFAULT_BACKOFF } from "../../packages/checkback/src/core/backoff.js";
import type { JobRecord } from "../../packages/checkback/src/core/job.js";
import { PostgresStore } from "../../packages/checkback/src/stores/postgres/postgres-store.js";
import type { NewJob } from "../../packages/checkback/src/stores/store.js";
import { DATABASE_URL, dropSchema, postgresReachable, randomSchema } from "../support/postgres-env.js";
import { sleep, waitFor } from "../support/wait.js";

/**
 * Groups on PostgreSQL beyond the shared suite (test/conformance/group-suite.ts): what only
 * many connections and many groups can show — a group's concurrency held exactly by claimers
 * racing in several processes, and tens of thousands of groups each served once per pass and
 * leaving no row behind.
 */
const available = await postgresReachable();
const schema = randomSchema("cbgroups");

const job = (queue: string, group: string, payload: string): NewJob => ({
  queue,
  key: null,
  payload: JSON.stringify(payload),
  when: { delayMs: 0 },
  maxAttempts: 3,
  backoff: DEFAULT_BACKOFF,
  onDuplicate: "keep",
  group,
});

describe.skipIf(!available)("PostgreSQL groups under concurrency and at scale", () => {
  const stores: PostgresStore[] = [];
  let raw: pg.Pool;
  beforeAll(async () => {
    // Four store instances, each with a pool of its own: four processes, as far as the database can tell.
    for (let i = 0; i < 4; i++) stores.push(new PostgresStore({ connectionString: DATABASE_URL, schema }));
    raw = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
    await stores[0]!.now(); // migrate once before the race
  });
  afterAll(async () => {
    for (const store of stores) await store.close();
    await raw?.end();
    await dropSchema(schema);
  });

  const activePerGroup = async (queue: string): Promise<Map<string, number>> => {
    const { rows } = await raw.query<{ group_name: string; n: number }>(
      `SELECT group_name, count(*)::integer AS n FROM "${schema}".jobs WHERE queue = $1 AND state = 'active' GROUP BY group_name`,
      [queue],
    );
    return new Map(rows.map((row) => [row.group_name, row.n]));
  };
  const groupRows = async (queue: string): Promise<number> => {
    const { rows } = await raw.query<{ n: number }>(
      `SELECT count(*)::integer AS n FROM "${schema}".job_groups WHERE queue = $1`,
      [queue],
    );
    return rows[0]!.n;
  };

  it("never lets a group exceed its concurrency, with claimers racing in several connections", async () => {
    const queue = "race";
    const K = 2;
    const GROUPS = 6;
    const PER_GROUP = 25;
    await stores[0]!.setGroupLimits(queue, null, { concurrency: K, limit: null });
    const jobs: NewJob[] = [];
    for (let g = 0; g < GROUPS; g++) for (let i = 0; i < PER_GROUP; i++) jobs.push(job(queue, `g${g}`, `g${g}-${i}`));
    await stores[0]!.add(jobs);

    const total = GROUPS * PER_GROUP;
    const seen = new Set<string>();
    let highest = 0;
    const violations: string[] = [];
    // Eight claimers over four connections pools, each claiming several at a time and finishing
    // what it claimed only after the count was checked, so places stay taken while others claim.
    const claimer = async (index: number) => {
      const store = stores[index % stores.length]!;
      let idle = 0;
      while (seen.size < total && idle < 200) {
        const { jobs: claimed } = await store.claimDue(queue, { limit: 4, leaseMs: 60_000 });
        const active = await activePerGroup(queue);
        for (const [group, n] of active) {
          highest = Math.max(highest, n);
          if (n > K) violations.push(`${group}: ${n} active`);
        }
        if (claimed.length === 0) {
          idle += 1;
          await new Promise((resolve) => setImmediate(resolve));
          continue;
        }
        idle = 0;
        for (const claimedJob of claimed) {
          if (seen.has(claimedJob.id)) violations.push(`${claimedJob.id} claimed twice`);
          seen.add(claimedJob.id);
        }
        await Promise.all(claimed.map((c: JobRecord) => store.complete(queue, c.id, c.leaseToken!, { result: null })));
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, i) => claimer(i)));

    expect(violations).toEqual([]);
    expect(seen.size).toBe(total);
    // The limit was reached, so it was what held the claimers back.
    expect(highest).toBe(K);
    expect((await stores[0]!.counts(queue)).completed).toBe(total);
    // Every group finished: no row left (the default limits live in group_defaults, not per group).
    expect(await groupRows(queue)).toBe(0);
  }, 120_000);

  it("serves 20,000 groups each once per pass, every job once, and leaves no group row", async () => {
    const queue = "many";
    const GROUPS = 20_000;
    const store = stores[0]!;
    const jobs: NewJob[] = [];
    for (let pass = 0; pass < 2; pass++) {
      for (let g = 0; g < GROUPS; g++) jobs.push(job(queue, `m${g}`, `m${g}-${pass}`));
    }
    for (let i = 0; i < jobs.length; i += 5_000) await store.add(jobs.slice(i, i + 5_000));
    expect(await groupRows(queue)).toBe(GROUPS);
    expect((await store.groupState(queue, "m7")).scheduled).toBe(2);

    const order: JobRecord[] = [];
    for (;;) {
      const { jobs: claimed } = await store.claimDue(queue, { limit: 500, leaseMs: 60_000 });
      if (claimed.length === 0) break;
      order.push(...claimed);
      await Promise.all(claimed.map((c) => store.complete(queue, c.id, c.leaseToken!, { result: null })));
    }
    expect(order).toHaveLength(2 * GROUPS);
    expect(new Set(order.map((j) => j.id)).size).toBe(2 * GROUPS);
    // Round-robin: every group had its first turn before any group had a second.
    expect(new Set(order.slice(0, GROUPS).map((j) => j.group)).size).toBe(GROUPS);
    expect(order.slice(0, GROUPS).every((j) => JSON.parse(j.payload).endsWith("-0"))).toBe(true);
    expect(await groupRows(queue)).toBe(0);
    expect((await store.busiestGroups(queue, 10)).activeGroups).toBe(0);
  }, 300_000);

  it("keeps a finished group's row while its bucket refills, and trim deletes it once full", async () => {
    const queue = "refill";
    const store = stores[0]!;
    await store.setGroupLimits(queue, null, { concurrency: null, limit: { rate: 1, perMs: 400 } });
    await store.add([job(queue, "r", "r0")]);
    const [claimed] = (await store.claimDue(queue, { limit: 10, leaseMs: 60_000 })).jobs;
    await store.complete(queue, claimed!.id, claimed!.leaseToken!, { result: null });
    // Its bucket is empty: forgetting the row now would let the group start again at once.
    expect(await groupRows(queue)).toBe(1);
    expect((await store.groupState(queue, "r")).tokens).toBe(0);
    await store.trim(queue, { keepLast: 1000 });
    const state = await store.groupState(queue, "r");
    if (state.tokens === 0) expect(await groupRows(queue)).toBe(1);
    // Once the bucket is full again, trim sweeps the row.
    await waitFor(async () => {
      await store.trim(queue, { keepLast: 1000 });
      return (await groupRows(queue)) === 0;
    }, 10_000);
    expect(await store.groupState(queue, "r")).toMatchObject({ active: 0, scheduled: 0, tokens: 1 });
  });

  it("puts groups served at one instant back in the order they were served, not by name", async () => {
    const queue = "served-order";
    const store = stores[0]!;
    const now = await store.now();
    // z became ready before a, so z is served first; both come back ready at the claim instant,
    // and z, served first, goes first again (rule 3's tie), although "a" < "z".
    await store.add([
      { ...job(queue, "z", "z0"), when: { runAt: now - 10_000 } },
      { ...job(queue, "z", "z1"), when: { runAt: now - 10_000 } },
      { ...job(queue, "a", "a0"), when: { runAt: now - 5_000 } },
      { ...job(queue, "a", "a1"), when: { runAt: now - 5_000 } },
    ]);
    const { jobs: claimed } = await store.claimDue(queue, { limit: 4, leaseMs: 60_000 });
    expect(claimed.map((c) => JSON.parse(c.payload))).toEqual(["z0", "a0", "z1", "a1"]);
  });

  it("serves a group's head in (runAt, insertion) order through reschedules and earlier adds between claims", async () => {
    const queue = "head-order";
    const store = stores[0]!;
    const now = await store.now();
    const at = (ms: number) => ({ runAt: now - ms });
    const added = await store.add([0, 1, 2, 3].map((i) => ({ ...job(queue, "h", `h${i}`), when: at(5_000 - i) })));
    const next = async () => {
      const { jobs: claimed } = await store.claimDue(queue, { limit: 1, leaseMs: 60_000 });
      return claimed.map((c) => JSON.parse(c.payload) as string);
    };
    expect(await next()).toEqual(["h0"]);
    // h1 was next; moved behind h3, it comes after it.
    await store.reschedule(queue, { id: added[1]!.job.id }, at(1_000));
    expect(await next()).toEqual(["h2"]);
    // A job added due before every other one goes first.
    await store.add([{ ...job(queue, "h", "early"), when: at(9_000) }]);
    expect(await next()).toEqual(["early"]);
    expect(await next()).toEqual(["h3"]);
    expect(await next()).toEqual(["h1"]);
    expect(await next()).toEqual([]);
  });

  it("carries a group's tokens over a change of its limit, never above the new bucket", async () => {
    const queue = "relimit";
    const store = stores[0]!;
    await store.setGroupLimits(queue, "x", { concurrency: null, limit: { rate: 2, perMs: 3_600_000 } });
    expect((await store.groupState(queue, "x")).tokens).toBe(2);
    // A bigger bucket does not fill it: the two tokens carry over (flow/rate-limit.ts withLimit).
    await store.setGroupLimits(queue, "x", { concurrency: null, limit: { rate: 10, perMs: 3_600_000 } });
    expect((await store.groupState(queue, "x")).tokens).toBe(2);
    await store.add([0, 1, 2].map((i) => job(queue, "x", `x${i}`)));
    expect((await store.claimDue(queue, { limit: 10, leaseMs: 60_000 })).jobs).toHaveLength(2);
    expect((await store.groupState(queue, "x")).tokens).toBe(0);
  });

  it("runs workers in two processes under a group concurrency of 1: every job, never two of a group at once", async () => {
    const queue = "workers";
    const GROUPS = 3;
    const PER_GROUP = 6;
    await stores[0]!.setGroupLimits(queue, null, { concurrency: 1, limit: null });
    const running = new Map<string, number>();
    const overlaps: string[] = [];
    let done = 0;
    // Two Checkback instances on two pools (two processes, as far as the database can tell),
    // each running more handlers at once than there are groups.
    const instances = [new Checkback({ store: stores[1]! }), new Checkback({ store: stores[2]! })];
    const workers = instances.map((cb) =>
      cb.worker(
        queue,
        async (active) => {
          const group = active.group!;
          const now = (running.get(group) ?? 0) + 1;
          running.set(group, now);
          if (now > 1) overlaps.push(`${group}: ${now} at once`);
          await sleep(15); // pacing: the handler holds its group's place for a while
          running.set(group, running.get(group)! - 1);
          done += 1;
        },
        { concurrency: 4, lease: "60s" },
      ),
    );
    try {
      const jobs: NewJob[] = [];
      for (let g = 0; g < GROUPS; g++) for (let i = 0; i < PER_GROUP; i++) jobs.push(job(queue, `w${g}`, `w${g}-${i}`));
      await stores[0]!.add(jobs);
      // (That a finish wakes a sleeping worker is the shared suite's concern: group-suite.ts.)
      await waitFor(() => done === GROUPS * PER_GROUP, 20_000);
      expect(overlaps).toEqual([]);
    } finally {
      await Promise.all(workers.map((worker) => worker.close()));
    }
    expect(await groupRows(queue)).toBe(0);
  });
});
