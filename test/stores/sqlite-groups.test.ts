import { type ChildProcess, fork } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { DEFAULT_BACKOFF } from "../../packages/checkback/src/core/backoff.js";
import type { JobRecord } from "../../packages/checkback/src/core/job.js";
import { MemoryStore } from "../../packages/checkback/src/stores/memory/memory-store.js";
import { migrate, SCHEMA_VERSION } from "../../packages/checkback/src/stores/sqlite/schema.js";
import { SqliteStore } from "../../packages/checkback/src/stores/sqlite/sqlite-store.js";
import type { NewJob, Store } from "../../packages/checkback/src/stores/store.js";
import { waitFor } from "../support/wait.js";

/** Groups as only the SQLite store keeps them: its schema, its rows, many groups, several connections. */
const root = mkdtempSync(join(tmpdir(), "checkback-sqlite-groups-"));
let fileNo = 0;
const freshPath = () => join(root, `db-${++fileNo}`, "jobs.db");
const open: SqliteStore[] = [];
const children: ChildProcess[] = [];

function storeAt(path: string, clock?: () => number): SqliteStore {
  const store = new SqliteStore(clock ? { path, clock } : { path });
  open.push(store);
  return store;
}

const job = (queue: string, overrides: Partial<NewJob> = {}): NewJob => ({
  queue,
  key: null,
  payload: "{}",
  when: { delayMs: 0 },
  maxAttempts: 3,
  backoff: DEFAULT_BACKOFF,
  onDuplicate: "keep",
  ...overrides,
});

/** Reads the file directly, beside the store. */
function rawCount(path: string, sql: string, ...params: unknown[]): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare(sql).get(...params) as { n: number }).n;
  } finally {
    db.close();
  }
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((store) => store.close()));
});

afterAll(() => {
  for (const proc of children) if (proc.exitCode === null) proc.kill("SIGKILL");
  rmSync(root, { recursive: true, force: true });
});

/** A claimer in another process on the file (sqlite-child.ts): claims when told, answers what it got. */
function claimer(path: string, queue: string): ChildProcess {
  const proc = fork(join(import.meta.dirname, "sqlite-child.ts"), ["claim", path, queue], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  children.push(proc);
  return proc;
}

const nextMessage = <T>(proc: ChildProcess): Promise<T> =>
  new Promise((resolve, reject) => {
    proc.once("message", (message) => resolve(message as T));
    proc.once("exit", (code) => reject(new Error(`child exited with ${code} before answering`)));
  });

describe("SQLite store: groups in the file", () => {
  it("migrates a version-3 file with jobs in every state, and groups work on it", async () => {
    const path = freshPath();
    mkdirSync(dirname(path), { recursive: true });
    const now = Date.now();
    // The file as checkback with schema version 3 left it: written with that version's columns.
    const old = new Database(path);
    old.pragma("journal_mode = WAL");
    migrate(old, 3);
    expect(old.pragma("user_version", { simple: true })).toBe(3);
    const insert = old.prepare(`
      INSERT INTO jobs (queue, key, payload, state, run_at, due_at, attempts, max_attempts, backoff, created_at,
                        updated_at, lease_token, lease_expires_at, priority)
      VALUES (?, ?, ?, ?, ?, ?, ?, 3, ?, ?, ?, ?, ?, ?)`);
    const backoff = JSON.stringify(DEFAULT_BACKOFF);
    insert.run("q", "due", '"due"', "scheduled", now - 1000, now - 1000, 0, backoff, now, now, null, null, 0);
    insert.run(
      "q",
      null,
      '"later"',
      "scheduled",
      now + 3_600_000,
      now + 3_600_000,
      0,
      backoff,
      now,
      now,
      null,
      null,
      0,
    );
    insert.run(
      "q",
      null,
      '"running"',
      "active",
      now - 2000,
      now + 60_000,
      1,
      backoff,
      now,
      now,
      "tok",
      now + 60_000,
      0,
    );
    insert.run("q", null, '"urgent"', "scheduled", now - 500, now - 500, 0, backoff, now, now, null, null, 5);
    insert.run("q", null, '"done"', "completed", now - 9000, null, 1, backoff, now, now, null, null, 0);
    old.prepare("INSERT INTO queue_flow VALUES ('q', 10, 1000, 10, ?, NULL)").run(now);
    old.close();

    const store = storeAt(path);
    expect(await store.counts("q")).toMatchObject({ scheduled: 3, active: 1, completed: 1 });
    const db = new Database(path, { readonly: true });
    expect(db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    const names = db
      .prepare("SELECT name FROM sqlite_schema WHERE name LIKE '%group%' ORDER BY name")
      .all()
      .map((row) => (row as { name: string }).name);
    db.close();
    expect(names).toEqual([
      "job_groups",
      "job_groups_busiest",
      "job_groups_idle",
      "job_groups_ready",
      "jobs_group_waiting",
      "queue_groups",
    ]);

    // The old jobs have no group and are claimed as before: by rank, under the queue's bucket.
    expect((await store.getByKey("q", "due"))!.group).toBeNull();
    const claimed = await store.claimDue("q", { limit: 10, leaseMs: 30_000 });
    expect(claimed.jobs.map((j) => JSON.parse(j.payload))).toEqual(["urgent", "due"]);
    expect(claimed.nextDueAt).toBe(claimed.now + 30_000);
    expect((await store.flowSettings("q")).tokens).toBe(8);

    // Grouped jobs on the migrated file, beside the old ones.
    await store.setGroupLimits("q", null, { concurrency: 1, limit: null });
    await store.add([
      job("q", { group: "g", payload: '"g0"', when: { runAt: now - 100 } }),
      job("q", { group: "g", payload: '"g1"', when: { runAt: now - 100 } }),
    ]);
    const grouped = await store.claimDue("q", { limit: 10, leaseMs: 30_000 });
    expect(grouped.jobs.map((j) => [JSON.parse(j.payload), j.group])).toEqual([["g0", "g"]]);
    expect(await store.groupState("q", "g")).toMatchObject({ active: 1, scheduled: 1, ownLimits: false });
    await store.close();

    // Reopening the migrated file changes nothing more.
    const again = storeAt(path);
    expect(await again.groupState("q", "g")).toMatchObject({ active: 1, scheduled: 1 });
    expect(rawCount(path, "SELECT count(*) AS n FROM jobs WHERE group_name IS NOT NULL")).toBe(2);
  });

  it("serves 50,000 groups of 1 to 3 jobs: every job once, in order within its group, and no group row left", {
    timeout: 180_000,
  }, async () => {
    const path = freshPath();
    const store = storeAt(path);
    const queue = "many";
    const GROUPS = 50_000;
    // Each group holds at most one active job: the held groups come back as their jobs finish.
    await store.setGroupLimits(queue, null, { concurrency: 1, limit: null });
    const runAt = Date.now() - 1000;
    let total = 0;
    for (let from = 0; from < GROUPS; from += 1000) {
      const batch: NewJob[] = [];
      for (let g = from; g < from + 1000; g++) {
        const size = 1 + (g % 3);
        for (let i = 0; i < size; i++) {
          batch.push(job(queue, { group: `merchant-${g}`, payload: JSON.stringify([g, i]), when: { runAt } }));
        }
      }
      total += batch.length;
      await store.add(batch);
    }
    expect(total).toBe(99_999);
    expect(rawCount(path, "SELECT count(*) AS n FROM job_groups WHERE queue = ?", queue)).toBe(GROUPS);

    const seen = new Set<string>();
    const nextInGroup = new Map<number, number>();
    let claims = 0;
    for (;;) {
      const { jobs } = await store.claimDue(queue, { limit: 1000, leaseMs: 600_000 });
      claims += 1;
      if (jobs.length === 0) break;
      const groupsInClaim = new Set<string>();
      for (const claimed of jobs) {
        expect(seen.has(claimed.id)).toBe(false);
        seen.add(claimed.id);
        // Concurrency 1: never two jobs of one group in flight.
        expect(groupsInClaim.has(claimed.group!)).toBe(false);
        groupsInClaim.add(claimed.group!);
        const [g, i] = JSON.parse(claimed.payload) as [number, number];
        expect(i).toBe(nextInGroup.get(g) ?? 0);
        nextInGroup.set(g, i + 1);
      }
      await Promise.all(jobs.map((j) => store.complete(queue, j.id, j.leaseToken!, { result: null })));
    }
    expect(seen.size).toBe(total);
    // Three rounds of 50 claims at most: each round serves every group that still has a job.
    expect(claims).toBeLessThanOrEqual(151);
    expect(await store.counts(queue)).toMatchObject({ scheduled: 0, active: 0, completed: total });
    expect(rawCount(path, "SELECT count(*) AS n FROM job_groups")).toBe(0);
    expect((await store.busiestGroups(queue, 10)).activeGroups).toBe(0);
  });

  it("keeps an emptied group's row only while its bucket refills or its pause lasts, then sweeps it", async () => {
    const path = freshPath();
    let now = Date.now();
    const store = storeAt(path, () => now);
    const queue = "limited";
    await store.setGroupLimits(queue, null, { concurrency: null, limit: { rate: 1, perMs: 10_000 } });
    await store.add(Array.from({ length: 100 }, (_, g) => job(queue, { group: `g${g}`, when: { runAt: now } })));
    const { jobs } = await store.claimDue(queue, { limit: 200, leaseMs: 60_000 });
    expect(jobs).toHaveLength(100);
    await Promise.all(jobs.map((j) => store.complete(queue, j.id, j.leaseToken!, { result: null })));
    // Every bucket is empty: deleting a row now would hand its group a full bucket early.
    const rows = () => rawCount(path, "SELECT count(*) AS n FROM job_groups WHERE queue = ?", queue);
    expect(rows()).toBe(100);
    expect(await store.groupState(queue, "g7")).toMatchObject({ active: 0, scheduled: 0, tokens: 0 });
    await store.add([job(queue, { group: "g7", payload: '"again"', when: { runAt: now } })]);
    expect((await store.claimDue(queue, { limit: 10, leaseMs: 60_000 })).nextDueAt).toBe(now + 10_000);

    // A pause of a group with no job is kept too, until it ends.
    await store.pauseGroup(queue, "quiet", { delayMs: 30_000 });
    expect(rows()).toBe(101);

    now += 10_000;
    // The next claim sweeps the rows whose bucket is full again, before it claims.
    const [again] = (await store.claimDue(queue, { limit: 10, leaseMs: 60_000 })).jobs;
    expect(JSON.parse(again!.payload)).toBe("again");
    // Left: g7 (charged just now, its job active) and "quiet" (paused for another 20 s).
    expect(rows()).toBe(2);
    await store.complete(queue, again!.id, again!.leaseToken!, { result: null });
    expect(rows()).toBe(2);
    now += 20_000;
    expect((await store.claimDue(queue, { limit: 10, leaseMs: 60_000 })).jobs).toHaveLength(0);
    expect(rows()).toBe(0);
    expect(await store.groupState(queue, "quiet")).toMatchObject({ pausedUntil: null, tokens: 1 });
  });

  it("keeps a group's own limits and the queue's default with no job, and forgets them once lifted", async () => {
    const path = freshPath();
    const store = storeAt(path);
    await store.setGroupLimits("q", "vip", { concurrency: 5, limit: null });
    await store.setGroupLimits("q", null, { concurrency: 1, limit: { rate: 10, perMs: 1000 } });
    expect(await store.groupState("q", "vip")).toMatchObject({ ownLimits: true, limits: { concurrency: 5 } });
    expect(rawCount(path, "SELECT count(*) AS n FROM job_groups")).toBe(1);
    const defaults = "SELECT count(*) AS n FROM queue_groups WHERE defaulted = 1";
    expect(rawCount(path, defaults)).toBe(1);
    await store.setGroupLimits("q", "vip", null);
    await store.setGroupLimits("q", null, null);
    expect(rawCount(path, "SELECT count(*) AS n FROM job_groups")).toBe(0);
    expect(rawCount(path, defaults)).toBe(0);
    expect((await store.flowSettings("q")).groupLimits).toBeNull();
  });

  it("a lowered default concurrency holds groups already running, and a raised one frees them", async () => {
    const store = storeAt(freshPath());
    const runAt = Date.now() - 1000;
    await store.add(
      ["a", "b"].flatMap((group) =>
        Array.from({ length: 4 }, (_, i) => job("q", { group, payload: `"${group}${i}"`, when: { runAt } })),
      ),
    );
    await store.setGroupLimits("q", null, { concurrency: 2, limit: null });
    expect((await store.claimDue("q", { limit: 10, leaseMs: 60_000 })).jobs).toHaveLength(4);
    await store.setGroupLimits("q", null, { concurrency: 1, limit: null });
    expect((await store.claimDue("q", { limit: 10, leaseMs: 60_000 })).jobs).toHaveLength(0);
    await store.setGroupLimits("q", null, { concurrency: 3, limit: null });
    const freed = await store.claimDue("q", { limit: 10, leaseMs: 60_000 });
    expect(freed.jobs.map((j) => JSON.parse(j.payload))).toEqual(["a2", "b2"]);
  });

  it("refuses a busiestGroups limit outside 1..1000", async () => {
    const store = storeAt(freshPath());
    for (const limit of [0, 1001, 2.5, Number.NaN]) {
      await expect(store.busiestGroups("q", limit)).rejects.toMatchObject({ code: "INVALID_OPTION" });
    }
  });
});

describe("SQLite store: groups across connections", () => {
  it("two processes claiming grouped jobs at once keep each group's concurrency and hand each job once", async () => {
    const path = freshPath();
    const store = storeAt(path);
    await store.setGroupLimits("q", null, { concurrency: 1, limit: null });
    const GROUPS = 500;
    const runAt = Date.now() - 1000;
    await store.add(
      Array.from({ length: GROUPS * 3 }, (_, i) => job("q", { group: `g${i % GROUPS}`, when: { runAt } })),
    );
    const claimers = [claimer(path, "q"), claimer(path, "q")];
    await Promise.all(claimers.map((proc) => nextMessage(proc)));
    const results = claimers.map((proc) => nextMessage<{ id: string; token: string }[]>(proc));
    for (const proc of claimers) proc.send("go");
    const [first, second] = await Promise.all(results);
    const claimed = [...first!, ...second!];
    // Concurrency 1: one job of each group, whoever claimed it.
    expect(claimed).toHaveLength(GROUPS);
    expect(new Set(claimed.map((c) => c.id)).size).toBe(GROUPS);
    const groups = new Set<string>();
    for (const { id, token } of claimed) {
      const record = (await store.get("q", id))!;
      expect(record).toMatchObject({ state: "active", leaseToken: token });
      groups.add(record.group!);
    }
    expect(groups.size).toBe(GROUPS);
    expect(rawCount(path, "SELECT sum(active) AS n FROM job_groups WHERE queue = 'q'")).toBe(GROUPS);
    expect(rawCount(path, "SELECT sum(scheduled) AS n FROM job_groups WHERE queue = 'q'")).toBe(GROUPS * 2);
    expect((await store.busiestGroups("q", 5)).activeGroups).toBe(GROUPS);
  });

  it("a grouped job added through one connection wakes a subscriber on another at its group's turn", async () => {
    const path = freshPath();
    const a = storeAt(path);
    const b = storeAt(path);
    await a.counts("q");
    const wakes: number[] = [];
    const unsubscribe = a.subscribe("q", (at) => wakes.push(at));
    try {
      const [added] = await b.add([job("q", { group: "g", when: { delayMs: 1_000 } })]);
      // The worker's idle re-check is 5 s: anything well under it is the wake-up at work.
      await waitFor(() => wakes.includes(added!.job.runAt), 2_000);
    } finally {
      unsubscribe();
    }
  });

  it("a finish on another connection that frees a held group wakes a subscriber here", async () => {
    const path = freshPath();
    const a = storeAt(path);
    const b = storeAt(path);
    await a.setGroupLimits("q", null, { concurrency: 1, limit: null });
    const runAt = Date.now() - 1000;
    await a.add([job("q", { group: "g", when: { runAt } }), job("q", { group: "g", when: { runAt } })]);
    const [first] = (await a.claimDue("q", { limit: 10, leaseMs: 600_000 })).jobs;
    const held = await a.claimDue("q", { limit: 10, leaseMs: 600_000 });
    expect(held.jobs).toHaveLength(0);
    // Held by its concurrency: nothing is due before the lease runs out.
    expect(held.nextDueAt).toBe(first!.leaseExpiresAt);
    const wakes: number[] = [];
    const unsubscribe = a.subscribe("q", (at) => wakes.push(at));
    try {
      await b.complete("q", first!.id, first!.leaseToken!, { result: null });
      await waitFor(() => wakes.some((at) => at < first!.leaseExpiresAt!), 2_000);
      expect((await a.claimDue("q", { limit: 10, leaseMs: 600_000 })).jobs).toHaveLength(1);
    } finally {
      unsubscribe();
    }
  });
});

describe("SQLite store: groups as the memory store keeps them", () => {
  it("orders ties at one instant: a group served at it goes behind those waiting at it, in serve order", async () => {
    const now = Date.now();
    const store = storeAt(freshPath(), () => now);
    await store.add([
      job("q", { group: "x", payload: '"x0"', when: { runAt: now - 10 } }),
      job("q", { group: "x", payload: '"x1"', when: { runAt: now - 10 } }),
      job("q", { group: "w", payload: '"w0"', when: { runAt: now - 5 } }),
      job("q", { group: "w", payload: '"w1"', when: { runAt: now - 5 } }),
      job("q", { group: "a", payload: '"a0"', when: { runAt: now } }),
      job("q", { group: "zz", payload: '"zz0"', when: { runAt: now } }),
    ]);
    const payloads = (jobs: JobRecord[]) => jobs.map((j) => JSON.parse(j.payload) as string);
    // Two claims at the same instant: x, then w, are served at `now` and ready again at it.
    expect(payloads((await store.claimDue("q", { limit: 1, leaseMs: 60_000 })).jobs)).toEqual(["x0"]);
    expect(payloads((await store.claimDue("q", { limit: 1, leaseMs: 60_000 })).jobs)).toEqual(["w0"]);
    // a and zz waited at `now` already: by name, then x and w in the order they were served.
    expect(payloads((await store.claimDue("q", { limit: 10, leaseMs: 60_000 })).jobs)).toEqual([
      "a0",
      "zz0",
      "x1",
      "w1",
    ]);
  });

  it("agrees with the memory store, the reference, over random operations", { timeout: 120_000 }, async () => {
    for (const seed of [1, 2, 3, 4, 5, 6]) await compareWithMemory(seed, 400, "long");
  });

  it("agrees with the memory store while leases run out and jobs go dead", { timeout: 120_000 }, async () => {
    for (const seed of [11, 12, 13, 14, 15, 16]) await compareWithMemory(seed, 400, "short");
  });
});

/**
 * Runs one seeded sequence of operations on both stores, on one clock, and compares every
 * answer. Leases "long" never run out; "short" ones do, between the steps that finish jobs.
 */
async function compareWithMemory(seed: number, steps: number, leases: "long" | "short"): Promise<void> {
  const random = mulberry32(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const between = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
  let now = 1_800_000_000_000;
  const clock = () => now;
  const sqlite = storeAt(freshPath(), clock);
  const memory = new MemoryStore({ clock });
  const stores: Store[] = [memory, sqlite];
  const queue = "diff";
  const GROUPS = ["a", "b", "c", "d"];
  const leaseMs = () => (leases === "long" ? 3_600_000 : between(500, 4000));
  /** Per job (by payload, unique): its id and lease token in each store. */
  const known = new Map<string, { ids: string[]; tokens: (string | null)[] }>();
  let serial = 0;
  const log: string[] = [];

  const both = async <T>(step: string, run: (store: Store, index: number) => Promise<T>): Promise<T[]> => {
    const answers: T[] = [];
    for (let i = 0; i < stores.length; i++) answers.push(await run(stores[i]!, i));
    log.push(step);
    return answers;
  };
  const same = (what: string, [reference, answer]: unknown[]) => {
    expect(answer, `seed ${seed}, ${what}, after:\n${log.slice(-12).join("\n")}`).toEqual(reference);
  };
  const note = (records: JobRecord[], index: number) => {
    for (const record of records) {
      const entry = known.get(record.payload)!;
      entry.ids[index] = record.id;
      entry.tokens[index] = record.leaseToken;
    }
  };
  const view = (record: JobRecord) => ({
    payload: record.payload,
    state: record.state,
    runAt: record.runAt,
    attempts: record.attempts,
    group: record.group,
    priority: record.priority,
  });

  for (let step = 0; step < steps; step++) {
    const action = random();
    if (action < 0.25) {
      const jobs: NewJob[] = [];
      for (let n = between(1, 4); n > 0; n--) {
        const group = random() < 0.8 ? pick(GROUPS) : null;
        const payload = JSON.stringify(`j${serial++}`);
        const key = random() < 0.15 ? `k${between(0, 5)}` : null;
        jobs.push(
          job(queue, {
            group,
            payload,
            key,
            onDuplicate: random() < 0.5 ? "keep" : "replace",
            priority: group === null && random() < 0.3 ? between(-3, 3) : 0,
            maxAttempts: leases === "long" ? 3 : between(1, 3),
            when: { runAt: now + between(-3000, 3000) },
          }),
        );
        known.set(payload, { ids: [], tokens: [] });
      }
      const outcomes = await both(`add ${jobs.map((j) => `${j.payload}@${j.group}`).join(" ")}`, (store) =>
        store.add(jobs),
      );
      same(
        "add",
        outcomes.map((list) => list.map((o) => [o.outcome, view(o.job)])),
      );
      outcomes.forEach((list, index) => {
        note(
          list.map((o) => o.job),
          index,
        );
      });
    } else if (action < 0.5) {
      const limit = between(1, 6);
      const lease = leaseMs();
      const claims = await both(`claim ${limit}`, (store) => store.claimDue(queue, { limit, leaseMs: lease }));
      same(
        "claim",
        claims.map((c) => ({ jobs: c.jobs.map(view), nextDueAt: c.nextDueAt })),
      );
      claims.forEach((claim, index) => {
        note(claim.jobs, index);
      });
    } else if (action < 0.72) {
      const active = [...known.entries()].filter(([, entry]) => entry.tokens[0] && entry.tokens[1]);
      if (active.length === 0) continue;
      const [payload, entry] = pick(active);
      const how = pick(["complete", "retry", "bury", "release", "cancel", "settle", "extend"] as const);
      const delayMs = between(0, 4000);
      const extendMs = leaseMs();
      // A token may be stale by now (its lease ran out and the job was claimed again, or went dead).
      const outcomes = await both(`${how} ${payload}`, async (store, i) => {
        const id = entry.ids[i]!;
        const token = entry.tokens[i]!;
        try {
          if (how === "complete") await store.complete(queue, id, token, { result: null });
          if (how === "retry") await store.fail(queue, id, token, { error: "x", retryDelayMs: delayMs });
          if (how === "bury") await store.fail(queue, id, token, { error: "x", retryDelayMs: null });
          if (how === "release") await store.release(queue, id, token, { delayMs });
          if (how === "cancel") await store.cancel(queue, { id });
          if (how === "settle") await store.settle(queue, { id }, { result: null });
          if (how === "extend") await store.extendLease(queue, id, token, extendMs);
          return "ok";
        } catch (error) {
          return (error as { code?: string }).code ?? String(error);
        }
      });
      same(how, outcomes);
      if (how !== "extend") entry.tokens = [null, null];
    } else if (action < 0.78) {
      const all = [...known.values()].filter((entry) => entry.ids.length === 2);
      if (all.length === 0) continue;
      const entry = pick(all);
      const runAt = now + between(-2000, 3000);
      same(
        "reschedule",
        (
          await both(`reschedule to ${runAt}`, (store, i) => store.reschedule(queue, { id: entry.ids[i]! }, { runAt }))
        ).map((outcome) => outcome.changed),
      );
    } else if (action < 0.84) {
      const group = random() < 0.4 ? null : pick(GROUPS);
      const limits =
        random() < 0.3
          ? null
          : {
              concurrency: random() < 0.6 ? between(1, 3) : null,
              limit: random() < 0.5 ? { rate: between(1, 3), perMs: between(1, 5) * 1000 } : null,
            };
      await both(`limits ${group} ${JSON.stringify(limits)}`, (store) => store.setGroupLimits(queue, group, limits));
    } else if (action < 0.88) {
      const group = pick(GROUPS);
      const until = random() < 0.4 ? null : { delayMs: between(0, 5000) };
      await both(`pause ${group} ${JSON.stringify(until)}`, (store) => store.pauseGroup(queue, group, until));
    } else if (action < 0.9) {
      const limit = random() < 0.5 ? null : { rate: between(2, 8), perMs: 1000 };
      await both(`queue limit ${JSON.stringify(limit)}`, (store) => store.setRateLimit(queue, limit));
    } else if (action < 0.92) {
      const delayMs = between(0, 2000);
      same("redrive", await both(`redrive +${delayMs}`, (store) => store.redrive(queue, { all: true }, { delayMs })));
    } else {
      now += between(0, 1500);
      log.push(`clock +→ ${now}`);
    }
    for (const group of [...GROUPS, "never"]) {
      same(`groupState ${group}`, await both("groupState", (store) => store.groupState(queue, group)));
    }
    same("busiest", await both("busiest", (store) => store.busiestGroups(queue, 10)));
    same("counts", await both("counts", (store) => store.counts(queue)));
    same("flow", await both("flow", (store) => store.flowSettings(queue)));
  }
  await memory.close();
}

/** A small seeded generator: the same sequence on every run. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
