import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { DEFAULT_BACKOFF } from "../../packages/checkback/src/core/backoff.js";
import { migrate, SCHEMA_VERSION } from "../../packages/checkback/src/stores/sqlite/schema.js";
import { SqliteStore } from "../../packages/checkback/src/stores/sqlite/sqlite-store.js";
import type { NewJob } from "../../packages/checkback/src/stores/store.js";
import { waitFor } from "../support/wait.js";

/** Groups as only the SQLite store keeps them: its schema, its rows, many groups, several connections. */
const root = mkdtempSync(join(tmpdir(), "checkback-sqlite-groups-"));
let fileNo = 0;
const freshPath = () => join(root, `db-${++fileNo}`, "jobs.db");
const open: SqliteStore[] = [];

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
  rmSync(root, { recursive: true, force: true });
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
      "group_defaults",
      "job_groups",
      "job_groups_busiest",
      "job_groups_idle",
      "job_groups_ready",
      "jobs_group_waiting",
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
    // A group that empties sweeps a few expired rows; trim sweeps the rest of the queue's.
    const [again] = (await store.claimDue(queue, { limit: 10, leaseMs: 60_000 })).jobs;
    expect(JSON.parse(again!.payload)).toBe("again");
    await store.complete(queue, again!.id, again!.leaseToken!, { result: null });
    expect(rows()).toBeLessThan(100);
    await store.trim(queue, { keepLast: 1000 });
    // Left: g7 (charged just now) and "quiet" (paused for another 20 s).
    expect(rows()).toBe(2);
    now += 20_000;
    await store.trim(queue, { keepLast: 1000 });
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
    expect(rawCount(path, "SELECT count(*) AS n FROM group_defaults")).toBe(1);
    await store.setGroupLimits("q", "vip", null);
    await store.setGroupLimits("q", null, null);
    expect(rawCount(path, "SELECT count(*) AS n FROM job_groups")).toBe(0);
    expect(rawCount(path, "SELECT count(*) AS n FROM group_defaults")).toBe(0);
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
