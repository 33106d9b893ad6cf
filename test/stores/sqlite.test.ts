import { type ChildProcess, fork } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { DEFAULT_BACKOFF } from "../../packages/checkback/src/core/backoff.js";
import { CheckbackError, ValidationError } from "../../packages/checkback/src/core/errors.js";
import { openStore } from "../../packages/checkback/src/stores/open-store.js";
import { SCHEMA_VERSION } from "../../packages/checkback/src/stores/sqlite/schema.js";
import { SqliteStore } from "../../packages/checkback/src/stores/sqlite/sqlite-store.js";
import type { NewJob } from "../../packages/checkback/src/stores/store.js";
import { sleep, waitFor } from "../support/wait.js";

/** What only the SQLite store has: a file, a schema, several connections and processes on it. */
const root = mkdtempSync(join(tmpdir(), "checkback-sqlite-store-"));
let fileNo = 0;
const freshPath = () => join(root, `db-${++fileNo}`, "jobs.db");
const open: SqliteStore[] = [];
const children: ChildProcess[] = [];

function storeAt(path: string, options: Partial<ConstructorParameters<typeof SqliteStore>[0]> = {}): SqliteStore {
  const store = new SqliteStore({ path, ...options });
  open.push(store);
  return store;
}

const job = (queue: string, overrides: Partial<NewJob> = {}): NewJob => ({
  queue,
  key: null,
  payload: '{"n":1}',
  when: { delayMs: 0 },
  maxAttempts: 3,
  backoff: DEFAULT_BACKOFF,
  onDuplicate: "keep",
  ...overrides,
});

function child(args: string[]): ChildProcess {
  const proc = fork(join(import.meta.dirname, "sqlite-child.ts"), args, {
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

const exited = (proc: ChildProcess): Promise<number | null> =>
  proc.exitCode !== null ? Promise.resolve(proc.exitCode) : new Promise((resolve) => proc.once("exit", resolve));

afterEach(async () => {
  await Promise.all(open.splice(0).map((store) => store.close()));
});

afterAll(() => {
  for (const proc of children) if (proc.exitCode === null) proc.kill("SIGKILL");
  rmSync(root, { recursive: true, force: true });
});

describe("SQLite store: the file", () => {
  it("creates the file and its parent directories on first use, not before", async () => {
    const path = join(root, "lazy", "nested", "jobs.db");
    const store = storeAt(path);
    expect(() => Database(path, { fileMustExist: true })).toThrow();
    await store.add([job("q")]);
    const db = new Database(path, { readonly: true });
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.close();
  });

  it("keeps jobs, their states and their history across reopen, and never reuses an id", async () => {
    const path = freshPath();
    const first = storeAt(path);
    const added = await first.add([job("q", { key: "order-1" }), job("q"), job("q", { when: { delayMs: 60_000 } })]);
    const { jobs } = await first.claimDue("q", { limit: 1, leaseMs: 30_000 });
    await first.fail("q", jobs[0]!.id, jobs[0]!.leaseToken!, { error: "gateway timeout", retryDelayMs: 10 });
    const { jobs: second } = await first.claimDue("q", { limit: 1, leaseMs: 30_000 });
    await first.complete("q", second[0]!.id, second[0]!.leaseToken!, { result: '"paid"' });
    await first.purge("q", "completed", { all: true });
    const before = await Promise.all(added.map(({ job: j }) => first.get("q", j.id)));
    await first.close();

    const reopened = storeAt(path);
    const after = await Promise.all(added.map(({ job: j }) => reopened.get("q", j.id)));
    expect(after).toEqual(before);
    expect(after[0]).toMatchObject({ state: "scheduled", attempts: 1, errors: [{ message: "gateway timeout" }] });
    expect(after[1]).toBeNull();
    expect((await reopened.getByKey("q", "order-1"))?.id).toBe(added[0]!.job.id);
    const [again] = await reopened.add([job("q")]);
    // AUTOINCREMENT: the purged job's id is not handed out again.
    expect(Number(again!.job.id)).toBeGreaterThan(Math.max(...added.map(({ job: j }) => Number(j.id))));
  });

  it("migrates once: reopening leaves the schema as it was", async () => {
    const path = freshPath();
    await storeAt(path).add([job("q")]);
    const schemaOf = () => {
      const db = new Database(path, { readonly: true });
      const schema = {
        version: db.pragma("user_version", { simple: true }),
        objects: db.prepare("SELECT type, name, sql FROM sqlite_schema ORDER BY name").all(),
      };
      db.close();
      return schema;
    };
    const first = schemaOf();
    expect(first.version).toBe(SCHEMA_VERSION);
    for (let i = 0; i < 3; i++) {
      const store = storeAt(path);
      expect(await store.counts("q")).toMatchObject({ scheduled: 1 });
      await store.close();
    }
    expect(schemaOf()).toEqual(first);
  });

  it("refuses a file written by a newer schema, and leaves it untouched", async () => {
    const path = freshPath();
    await storeAt(path).add([job("q")]);
    await Promise.all(open.splice(0).map((store) => store.close()));
    const db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    await expect(storeAt(path).counts("q")).rejects.toThrow(/newer than this checkback supports/);
    const check = new Database(path, { readonly: true });
    expect(check.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION + 1);
    check.close();
  });

  it("survives SIGKILL of the process that added jobs (synchronous=normal)", async () => {
    const path = freshPath();
    mkdirSync(join(path, ".."), { recursive: true });
    const adder = child(["add", path, "q", "500"]);
    expect(await nextMessage(adder)).toBe("added");
    adder.kill("SIGKILL");
    await exited(adder);
    expect(await storeAt(path).counts("q")).toMatchObject({ scheduled: 500 });
  });

  it("durable setting full works the same way", async () => {
    const path = freshPath();
    const store = storeAt(path, { synchronous: "full" });
    await store.add([job("q")]);
    const db = new Database(path, { readonly: true });
    expect(db.prepare("SELECT count(*) AS n FROM jobs").get()).toEqual({ n: 1 });
    db.close();
  });
});

describe("SQLite store: bad input", () => {
  it("opening a path that is a directory is a clear validation error", () => {
    const dir = join(root, "a-directory");
    mkdirSync(dir, { recursive: true });
    expect(() => new SqliteStore({ path: dir })).toThrow(ValidationError);
    expect(() => new SqliteStore({ path: dir })).toThrow(/is a directory/);
  });

  it("a file that is not a database fails on first use with the path in the message", async () => {
    const path = join(root, "not-a-database.txt");
    writeFileSync(path, "hello, this is text and not SQLite\n".repeat(200));
    const store = storeAt(path);
    await expect(store.add([job("q")])).rejects.toThrow(/cannot open the SQLite database at .*not-a-database\.txt/);
  });

  it("rejects bad options before touching the disk", () => {
    expect(() => new SqliteStore({ path: "" })).toThrow(ValidationError);
    expect(() => new SqliteStore({ path: freshPath(), synchronous: "off" as "full" })).toThrow(/synchronous/);
    expect(() => new SqliteStore({ path: freshPath(), busyTimeoutMs: -1 })).toThrow(/busyTimeoutMs/);
    expect(() => new SqliteStore({ path: freshPath(), cache: 1 } as never)).toThrow(/unknown sqlite store option/);
    expect(() => openStore("sqlite:./x.db?journal=off")).toThrow(/unsupported sqlite URL parameter/);
  });

  it("refuses calls after close", async () => {
    const store = storeAt(freshPath());
    await store.add([job("q")]);
    await store.close();
    await expect(store.counts("q")).rejects.toMatchObject({ code: "STORE_CLOSED" });
    await expect(store.add([job("q")])).rejects.toBeInstanceOf(CheckbackError);
  });

  it("ids that are not ours name no job", async () => {
    const store = storeAt(freshPath());
    const [added] = await store.add([job("q")]);
    for (const id of ["0", "-1", "01", "1.0", " 1", "1e0", "99999999999999999999", "abc"]) {
      expect(await store.get("q", id)).toBeNull();
    }
    expect(await store.get("q", added!.job.id)).not.toBeNull();
    await expect(store.list("q", "scheduled", { limit: 10, cursor: "garbage" })).rejects.toMatchObject({
      code: "INVALID_OPTION",
    });
  });
});

describe("SQLite store: group commit", () => {
  it("a stale call rejects alone; the calls batched with it commit", async () => {
    const path = freshPath();
    const store = storeAt(path);
    await store.add([job("q"), job("q")]);
    const { jobs } = await store.claimDue("q", { limit: 2, leaseMs: 30_000 });
    const [stale, good, added] = await Promise.allSettled([
      store.complete("q", jobs[0]!.id, "not-the-token", { result: null }),
      store.complete("q", jobs[1]!.id, jobs[1]!.leaseToken!, { result: '"ok"' }),
      store.add([job("q", { key: "k" })]),
    ]);
    expect(stale).toMatchObject({ status: "rejected", reason: { code: "LEASE_LOST" } });
    expect(good.status).toBe("fulfilled");
    expect(added.status).toBe("fulfilled");
    const other = storeAt(path);
    expect(await other.get("q", jobs[0]!.id)).toMatchObject({ state: "active" });
    expect(await other.get("q", jobs[1]!.id)).toMatchObject({ state: "completed", result: '"ok"' });
    expect(await other.getByKey("q", "k")).toMatchObject({ state: "scheduled" });
  });

  it("a read sees the writes called before it, awaited or not", async () => {
    const store = storeAt(freshPath());
    const adding = store.add([job("q", { key: "first" })]);
    const reading = store.getByKey("q", "first");
    expect((await reading)?.id).toBe((await adding)[0]!.job.id);
  });

  it("when the write lock cannot be had, the whole batch fails and nothing is written", async () => {
    const path = freshPath();
    const store = storeAt(path, { busyTimeoutMs: 0 });
    await store.add([job("q")]);
    const holder = new Database(path);
    holder.prepare("BEGIN IMMEDIATE").run();
    try {
      const results = await Promise.allSettled([store.add([job("q")]), store.add([job("q", { key: "k" })])]);
      for (const result of results)
        expect(result).toMatchObject({ status: "rejected", reason: { code: "SQLITE_BUSY" } });
    } finally {
      holder.prepare("ROLLBACK").run();
      holder.close();
    }
    expect(await store.counts("q")).toMatchObject({ scheduled: 1 });
    await store.add([job("q")]);
    expect(await store.counts("q")).toMatchObject({ scheduled: 2 });
  });

  it("close() commits what was called before it", async () => {
    const path = freshPath();
    const store = storeAt(path);
    const adding = store.add([job("q")]);
    await store.close();
    expect((await adding)[0]!.outcome).toBe("created");
    expect(await storeAt(path).counts("q")).toMatchObject({ scheduled: 1 });
  });
});

describe("SQLite store: URLs", () => {
  it("sqlite:<path> opens a SQLite store, and it is the default", async () => {
    const path = freshPath();
    const store = openStore(`sqlite:${path}?synchronous=full`);
    open.push(store as SqliteStore);
    expect(store).toBeInstanceOf(SqliteStore);
    expect((store as SqliteStore).path).toBe(path);
    expect(openStore(`sqlite://${path}`)).toMatchObject({ kind: "sqlite", path });
    const previous = process.env.CHECKBACK_STORE;
    delete process.env.CHECKBACK_STORE;
    try {
      expect(openStore()).toMatchObject({ kind: "sqlite", path: join(process.cwd(), "checkback.db") });
    } finally {
      if (previous !== undefined) process.env.CHECKBACK_STORE = previous;
    }
  });
});

describe("SQLite store: several connections on one file", () => {
  it("two connections claiming at once never hand one job to two leases", async () => {
    const path = freshPath();
    const a = storeAt(path);
    const b = storeAt(path);
    await a.add(Array.from({ length: 600 }, () => job("q")));
    const claimedBy = async (store: SqliteStore) => {
      const ids: string[] = [];
      for (;;) {
        const { jobs } = await store.claimDue("q", { limit: 7, leaseMs: 600_000 });
        if (jobs.length === 0) return ids;
        ids.push(...jobs.map((j) => j.id));
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const [fromA, fromB] = await Promise.all([claimedBy(a), claimedBy(b)]);
    expect(fromA.length).toBeGreaterThan(0);
    expect(fromB.length).toBeGreaterThan(0);
    expect(fromA.filter((id) => fromB.includes(id))).toEqual([]);
    expect(new Set([...fromA, ...fromB]).size).toBe(600);
  });

  it("two processes claiming at once never hand one job to two leases", async () => {
    const path = freshPath();
    const store = storeAt(path);
    const total = 4_000;
    await store.add(Array.from({ length: total }, () => job("q")));
    const claimers = [child(["claim", path, "q"]), child(["claim", path, "q"])];
    await Promise.all(claimers.map((proc) => nextMessage(proc)));
    const results = claimers.map((proc) => nextMessage<{ id: string; token: string }[]>(proc));
    for (const proc of claimers) proc.send("go");
    const [first, second] = await Promise.all(results);
    const firstIds = new Set(first!.map((c) => c.id));
    expect(second!.filter((c) => firstIds.has(c.id))).toEqual([]);
    expect(first!.length + second!.length).toBe(total);
    // Each job is active under exactly the token its one claimant was handed.
    for (const claim of [...first!, ...second!]) {
      const record = await store.get("q", claim.id);
      expect(record?.state).toBe("active");
      expect(record?.leaseToken).toBe(claim.token);
    }
  });

  it("a job added through one connection wakes a subscriber on another", async () => {
    const path = freshPath();
    const a = storeAt(path);
    const b = storeAt(path);
    await a.counts("q");
    const wakes: number[] = [];
    const unsubscribe = a.subscribe("q", (runAt) => wakes.push(runAt));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const [added] = await b.add([job("q", { when: { delayMs: 1_000 } })]);
    // The worker's idle re-check is 5 s: anything well under it is the wake-up at work.
    const deadline = Date.now() + 2_000;
    while (!wakes.includes(added!.job.runAt) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(wakes).toContain(added!.job.runAt);
    unsubscribe();
  });

  it("watching other connections resumes after every subscriber left and one came back", async () => {
    const path = freshPath();
    const a = storeAt(path);
    const b = storeAt(path);
    a.subscribe("q", () => {})();
    const wakes: number[] = [];
    a.subscribe("q", (runAt) => wakes.push(runAt));
    const [added] = await b.add([job("q")]);
    const deadline = Date.now() + 2_000;
    while (!wakes.includes(added!.job.runAt) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(wakes).toContain(added!.job.runAt);
  });

  it("a job added by another process wakes a subscriber here", async () => {
    const path = freshPath();
    const store = storeAt(path);
    await store.counts("q");
    const wakes: number[] = [];
    store.subscribe("q", (runAt) => wakes.push(runAt));
    const adder = child(["add", path, "q", "3"]);
    expect(await nextMessage(adder)).toBe("added");
    const deadline = Date.now() + 2_000;
    while (wakes.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    adder.kill("SIGKILL");
    expect(wakes.length).toBeGreaterThan(0);
    const [head] = (await store.list("q", "scheduled", { limit: 1 })).jobs;
    expect(wakes).toContain(head!.runAt);
  });

  it("workers in two other processes pick up a job added here at once, and each job runs once", async () => {
    const path = freshPath();
    const store = storeAt(path);
    await store.counts("q");
    const log = join(root, `deliveries-${fileNo}.log`);
    writeFileSync(log, "");
    const workers = [child(["work", path, "q", log]), child(["work", path, "q", log])];
    await Promise.all(workers.map((proc) => nextMessage(proc)));
    const delivered = () => readFileSync(log, "utf8").split("\n").filter(Boolean);
    const waitFor = async (done: () => boolean) => {
      const deadline = Date.now() + 2_000;
      while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    };

    // Both workers are asleep, for up to their 5 s idle re-check: only a wake-up is this fast.
    const [first] = await store.add([job("q")]);
    await waitFor(() => delivered().length > 0);
    expect(delivered()).toEqual([first!.job.id]);

    const batch = await store.add(Array.from({ length: 200 }, () => job("q")));
    await waitFor(() => delivered().length >= 201);
    const ids = delivered();
    expect(ids).toHaveLength(201);
    expect(new Set(ids)).toEqual(new Set([first!.job.id, ...batch.map((added) => added.job.id)]));
    for (const proc of workers) proc.kill("SIGKILL");
  });

  it("its own writes do not wake it through the file watcher twice", async () => {
    const store = storeAt(freshPath());
    const wakes: number[] = [];
    store.subscribe("q", (runAt) => wakes.push(runAt));
    await store.add([job("q")]);
    await waitFor(() => wakes.length > 0, 5_000);
    // A fixed wait, for what must NOT happen: a second wake-up through the file watcher.
    await sleep(200);
    expect(wakes).toHaveLength(1);
  });

  it("a subscribed process exits on its own: the watcher never keeps it alive", async () => {
    const proc = child(["linger", freshPath(), "q"]);
    const code = await Promise.race([
      exited(proc),
      new Promise((resolve) => setTimeout(() => resolve("hung"), 15_000)),
    ]);
    expect(code).toBe(0);
  });
});
