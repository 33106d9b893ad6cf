import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_BACKOFF } from "../../packages/checkback/src/core/backoff.js";
import { ValidationError } from "../../packages/checkback/src/core/errors.js";
import { type BackupProgress, SqliteStore } from "../../packages/checkback/src/stores/sqlite/sqlite-store.js";
import type { NewJob } from "../../packages/checkback/src/stores/store.js";

/** SqliteStore.backup: SQLite's online backup, in steps, finishing even beside a busy writer. */
const root = mkdtempSync(join(tmpdir(), "checkback-sqlite-backup-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const job = (payload: string): NewJob => ({
  queue: "q",
  key: null,
  payload,
  when: { delayMs: 0 },
  maxAttempts: 3,
  backoff: DEFAULT_BACKOFF,
  onDuplicate: "keep",
});

describe("SqliteStore.backup", () => {
  it("finishes although another connection writes between every step (SQLite restarts the copy)", async () => {
    const path = join(root, "busy.db");
    const store = new SqliteStore({ path });
    const filler = JSON.stringify("x".repeat(4_000));
    for (let i = 0; i < 5; i++) await store.add(Array.from({ length: 2_000 }, () => job(filler)));
    // Another process's writer, as seen from the store's connection.
    const other = new Database(path);
    other.pragma("busy_timeout = 5000");
    other.exec("CREATE TABLE other_writes (n INTEGER)");
    const insert = other.prepare("INSERT INTO other_writes (n) VALUES (1)");
    const seen: BackupProgress[] = [];
    const done = await store.backup(join(root, "busy-copy.db"), {
      onProgress: (progress) => {
        seen.push(progress);
        // Without the single-step fallback this restarts the copy at every step, forever.
        if (seen.length < 10_000) insert.run();
      },
    });
    other.close();
    await store.close();

    expect(done.remainingPages).toBe(0);
    expect(seen.at(-1)).toEqual(done);
    expect(seen.length).toBeLessThan(10);
    const copy = new SqliteStore({ path: join(root, "busy-copy.db") });
    expect((await copy.counts("q")).scheduled).toBe(10_000);
    await copy.close();
  });

  it("holds the calls made before it, and refuses an in-memory store", async () => {
    const store = new SqliteStore({ path: join(root, "plain.db") });
    const added = store.add([job("1")]); // not awaited: still waiting for its group commit
    await store.backup(join(root, "plain-copy.db"));
    await added;
    await store.close();
    const copy = new SqliteStore({ path: join(root, "plain-copy.db") });
    expect((await copy.counts("q")).scheduled).toBe(1);
    await copy.close();

    const memory = new SqliteStore({ path: ":memory:" });
    await expect(memory.backup(join(root, "never.db"))).rejects.toThrow(ValidationError);
    await memory.close();
  });
});
