import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { DEFAULT_BACKOFF } from "../../packages/checkback/src/core/backoff.js";
import { Checkpointer } from "../../packages/checkback/src/stores/sqlite/checkpointer.js";
import { SqliteStore } from "../../packages/checkback/src/stores/sqlite/sqlite-store.js";
import type { NewJob } from "../../packages/checkback/src/stores/store.js";

/** WAL checkpoints run on a thread of the store's, never inside the serving connection's commits. */
const root = mkdtempSync(join(tmpdir(), "checkback-sqlite-checkpointer-"));
let fileNo = 0;
const freshPath = () => join(root, `db-${++fileNo}.db`);
const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const jobs = (count: number): NewJob[] =>
  Array.from({ length: count }, (_, n) => ({
    queue: "q",
    key: null,
    payload: JSON.stringify({ n, padding: "x".repeat(200) }),
    when: { delayMs: 3_600_000 + n },
    maxAttempts: 3,
    backoff: DEFAULT_BACKOFF,
    onDuplicate: "keep",
  }));

const until = async (condition: () => boolean, timeoutMs = 10_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

function walConnection(path: string): Database.Database {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.exec("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body TEXT)");
  cleanups.push(() => db.open && db.close());
  return db;
}

function writePages(db: Database.Database, rows: number): void {
  const insert = db.prepare("INSERT INTO t (body) VALUES (?)");
  db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run("y".repeat(1_000));
  })();
}

describe("SQLite store: checkpoints off the event loop", () => {
  it("while the store runs, its thread copies the WAL into the database file", async () => {
    const path = freshPath();
    const store = new SqliteStore({ path });
    cleanups.push(() => store.close());
    await store.add(jobs(1));
    const sizeBefore = statSync(path).size;
    for (let i = 0; i < 10; i++) await store.add(jobs(1_000));
    await until(() => statSync(path).size > sizeBefore * 10);

    const probe = new Database(path, { readonly: true });
    cleanups.push(() => probe.close());
    expect(probe.prepare("SELECT count(*) AS n FROM jobs").get()).toEqual({ n: 10_001 });
  });

  it("sets wal_autocheckpoint to 0 while the thread runs, and back to SQLite's default if the thread dies", async () => {
    const path = freshPath();
    const db = walConnection(path);
    const checkpointer = new Checkpointer(db, path, "NORMAL");
    cleanups.push(() => checkpointer.stop());
    expect(db.pragma("wal_autocheckpoint", { simple: true })).toBe(0);
    expect(checkpointer.running).toBe(true);

    await checkpointer.kill();
    expect(checkpointer.running).toBe(false);
    expect(db.pragma("wal_autocheckpoint", { simple: true })).toBe(1_000);
    // With the default back, a commit crossing 1,000 WAL pages checkpoints on its own again.
    writePages(db, 5_000);
    const [state] = db.pragma("wal_checkpoint(PASSIVE)") as { log: number; checkpointed: number }[];
    expect(state!.log).toBe(state!.checkpointed);
  });

  it("a thread that cannot open the file exits and leaves automatic checkpoints on", async () => {
    const path = freshPath();
    const db = walConnection(path);
    const checkpointer = new Checkpointer(db, join(root, "missing", "nothing.db"), "NORMAL");
    await until(() => !checkpointer.running);
    expect(db.pragma("wal_autocheckpoint", { simple: true })).toBe(1_000);
  });

  it("stop() ends the thread and closes its connection, leaving the serving connection's autocheckpoint alone", async () => {
    const path = freshPath();
    const db = walConnection(path);
    const checkpointer = new Checkpointer(db, path, "NORMAL");
    writePages(db, 2_000);
    await until(() => checkpointer.checkpointedFrames > 0);
    await checkpointer.stop();
    expect(checkpointer.running).toBe(false);
    expect(db.pragma("wal_autocheckpoint", { simple: true })).toBe(0);
    // The thread's connection is gone: closing this last one checkpoints and removes the WAL.
    db.close();
    expect(() => statSync(`${path}-wal`)).toThrow();
  });

  it("two stores on one file (one checkpointer each) lose no writes", async () => {
    const path = freshPath();
    const first = new SqliteStore({ path });
    const second = new SqliteStore({ path });
    cleanups.push(
      () => first.close(),
      () => second.close(),
    );
    await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? first : second).add(jobs(500))));
    await until(() => statSync(path).size > 1_000_000);
    expect((await first.counts("q")).scheduled).toBe(5_000);
    expect((await second.counts("q")).scheduled).toBe(5_000);
  });
});
