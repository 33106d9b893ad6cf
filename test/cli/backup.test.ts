import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_BACKOFF } from "../../packages/checkback/src/core/backoff.js";
import { SqliteStore } from "../../packages/checkback/src/stores/sqlite/sqlite-store.js";
import type { NewJob } from "../../packages/checkback/src/stores/store.js";
import { parseJson, runCli } from "./run-cli.js";

/** `checkback backup`: SQLite's online backup of a store file in use, through the real binary. */
const root = mkdtempSync(join(tmpdir(), "checkback-backup-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const QUEUE = "orders";
const job = (n: number, payload: string): NewJob => ({
  queue: QUEUE,
  key: `k-${n}`,
  payload,
  when: { delayMs: 60_000 },
  maxAttempts: 3,
  backoff: DEFAULT_BACKOFF,
  onDuplicate: "keep",
});

describe("checkback backup", () => {
  it("copies a store a producer keeps writing to: the copy is a valid store with every job acknowledged before it began", async () => {
    const source = join(root, "live.db");
    const store = new SqliteStore({ path: source });
    // About 40 MB, so the copy takes several steps and the producer's commits land in the middle.
    const big = JSON.stringify({ filler: "x".repeat(2_000) });
    let n = 0;
    const acknowledged: string[] = [];
    for (let batch = 0; batch < 20; batch++) {
      const added = await store.add(Array.from({ length: 1_000 }, () => job(n++, big)));
      for (const outcome of added) acknowledged.push(outcome.job.id);
    }

    // The producer: one job per commit, each id recorded once its add resolved (= committed).
    let producing = true;
    let addedDuringBackup = 0;
    let backupRunning = false;
    const producer = (async () => {
      while (producing) {
        const [outcome] = await store.add([job(n++, '{"small":true}')]);
        acknowledged.push(outcome!.job.id);
        if (backupRunning) addedDuringBackup++;
      }
    })();
    while (acknowledged.length < 20_050) await new Promise((resolve) => setImmediate(resolve));

    const before = [...acknowledged];
    const destination = join(root, "copy.db");
    backupRunning = true;
    const run = await runCli(["--json", "backup", destination, "--store", `sqlite:${source}`]);
    backupRunning = false;
    producing = false;
    await producer;
    await store.close();

    expect(run.code, run.stderr).toBe(0);
    const summary = parseJson<{ source: string; destination: string; pages: number; bytes: number }>(run);
    expect(summary).toMatchObject({ source: source, destination });
    expect(summary.pages).toBeGreaterThan(4096 * 2);
    expect(addedDuringBackup).toBeGreaterThan(0);
    // A complete database of its own: nothing left in a -wal file beside it.
    expect(existsSync(`${destination}-wal`)).toBe(false);
    const raw = new Database(destination, { readonly: true });
    expect(raw.pragma("integrity_check", { simple: true })).toBe("ok");
    raw.close();

    const copy = new SqliteStore({ path: destination });
    try {
      const found = await Promise.all(before.map((id) => copy.get(QUEUE, id)));
      const missing = before.filter((_id, i) => found[i] === null);
      expect(missing).toEqual([]);
      expect(found.every((record) => record?.state === "scheduled")).toBe(true);
      // The copy works as a store: it takes new jobs.
      const [added] = await copy.add([job(n++, "{}")]);
      expect(added!.outcome).toBe("created");
    } finally {
      await copy.close();
    }
  }, 60_000);

  it("refuses a store that is not an SQLite file, a missing file and an existing destination", async () => {
    const redis = await runCli(["backup", join(root, "r.db"), "--store", "redis://127.0.0.1:6379"]);
    expect(redis.code).toBe(2);
    expect(redis.stderr).toMatch(/^error: UNSUPPORTED_STORE: .*SQLite/m);

    const memory = await runCli(["backup", join(root, "m.db")], { env: { CHECKBACK_STORE: "memory:" } });
    expect(memory.code).toBe(2);
    expect(memory.stderr).toMatch(/UNSUPPORTED_STORE/);

    const missingPath = join(root, "nothing-here.db");
    const missing = await runCli(["backup", join(root, "n.db"), "--store", `sqlite:${missingPath}`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/STORE_NOT_FOUND/);
    // A backup never creates the store it was asked to copy.
    expect(existsSync(missingPath)).toBe(false);

    const source = join(root, "small.db");
    const store = new SqliteStore({ path: source });
    await store.add([job(1, "{}")]);
    await store.close();
    const taken = join(root, "taken.db");
    writeFileSync(taken, "keep me");
    const exists = await runCli(["backup", taken, "--store", `sqlite:${source}`]);
    expect(exists.code).toBe(1);
    expect(exists.stderr).toMatch(/DESTINATION_EXISTS/);
  });
});
