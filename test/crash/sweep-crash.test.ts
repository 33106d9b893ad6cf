import { type ChildProcess, fork } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { DATABASE_URL, dropSchema, postgresReachable, randomSchema } from "../support/postgres-env.js";
import { REDIS_URL, reachable } from "../support/redis-env.js";
import { waitFor } from "../support/wait.js";
import { CRASH_PAGE_SIZE, CRASH_RECORDS, CRASH_SWEEP, crashTable } from "./sweep-definition.js";

/**
 * A process running a sweep is killed with SIGKILL mid-run; another process takes over when the
 * run's lease runs out and resumes from the last checkpoint. Every record is handled at least
 * once, none is skipped, the pages before the checkpoint are not read again, and what is handled
 * twice is at most the page the kill cut off.
 */
const dir = mkdtempSync(join(tmpdir(), "checkback-sweep-crash-"));
const children: ChildProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  for (const cleanup of cleanups) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const stores: [string, () => Promise<string | null>][] = [
  ["sqlite", async () => `sqlite:${join(dir, "sweeps.db")}`],
  [
    "postgres",
    async () => {
      if (!(await postgresReachable())) return null;
      const schema = randomSchema("cbsweepcrash");
      cleanups.push(() => dropSchema(schema));
      return `${DATABASE_URL}?schema=${schema}`;
    },
  ],
  [
    "redis",
    async () =>
      (await reachable(REDIS_URL, "Redis", "redis-server --port 6379"))
        ? `${REDIS_URL}?prefix=cbsweepcrash-${process.pid}`
        : null,
  ],
];

describe.each(stores)("crash: SIGKILL a process running a sweep on %s", (backend, url) => {
  it("resumes from the checkpoint: every item at least once, none skipped, at most one page twice", async () => {
    const storeUrl = await url();
    if (storeUrl === null) return console.warn(`!!! SKIPPING the ${backend} sweep crash test: no ${backend}`);
    const name = `crash-${backend}-${Date.now().toString(36)}`;
    const logPath = join(dir, `${name}.log`);
    const log = () => (existsSync(logPath) ? readFileSync(logPath, "utf8").split("\n").filter(Boolean) : []);
    const start = (): Promise<ChildProcess> => {
      const child = fork(join(import.meta.dirname, "sweep-process.ts"), [storeUrl, name, logPath], {
        execArgv: ["--import", "tsx"],
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      });
      children.push(child);
      return new Promise((resolve, reject) => {
        child.once("message", () => resolve(child));
        child.once("exit", (code) => reject(new Error(`sweep process exited early with ${code}`)));
      });
    };

    const checkback = new Checkback({ store: storeUrl });
    cleanups.push(() => checkback.close());
    const sweep = checkback.sweep<number>(name, {
      ...CRASH_SWEEP,
      page: crashTable,
      handle: () => {},
      worker: false,
    });
    const run = await sweep.start();

    const first = await start();
    await waitFor(() => log().filter((line) => line.startsWith("item ")).length >= CRASH_RECORDS / 3, 30_000);
    first.kill("SIGKILL");
    await new Promise((resolve) => first.once("exit", resolve));
    const beforeKill = log().length;
    const checkpoint = (await sweep.status()).run!;
    expect(checkpoint).toMatchObject({ id: run.id, state: "running" });
    expect(checkpoint.cursor).not.toBeNull();

    await start();
    await waitFor(async () => (await sweep.status()).state === "completed", 30_000);
    const after = log().slice(beforeKill);
    // The second process started from the checkpoint, not from the beginning.
    expect(after[0]).toBe(`page ${checkpoint.cursor}`);

    const handled = new Map<number, number>();
    for (const line of log()) {
      if (line.startsWith("item ")) handled.set(Number(line.slice(5)), (handled.get(Number(line.slice(5))) ?? 0) + 1);
    }
    for (let id = 0; id < CRASH_RECORDS; id++) expect(handled.get(id), `item ${id}`).toBeGreaterThanOrEqual(1);
    const twice = [...handled.values()].filter((count) => count > 1).length;
    expect(twice).toBeLessThanOrEqual(CRASH_PAGE_SIZE);
    const final = (await sweep.status()).run!;
    expect(final).toMatchObject({ id: run.id, items: CRASH_RECORDS, pages: CRASH_RECORDS / CRASH_PAGE_SIZE });
    console.log(
      `sweep crash test (${backend}): killed after ${checkpoint.items} items checkpointed, ` +
        `${twice} items handled twice (the page in flight), resumed at cursor ${checkpoint.cursor}`,
    );
  }, 60_000);
});
