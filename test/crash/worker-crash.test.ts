import { type ChildProcess, fork } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { sleep, waitFor } from "../support/wait.js";

const JOBS = 400;
const LEASE_MS = 1_000;

/**
 * A worker process holding leased jobs is killed with SIGKILL mid-run. After a restart every job
 * completes; a job runs twice only if it was active (leased) at the moment of the kill, i.e. its
 * lease had to expire before it could be claimed again.
 */
describe("crash: SIGKILL a worker process holding leases", () => {
  const dir = mkdtempSync(join(tmpdir(), "checkback-crash-"));
  const dbPath = join(dir, "crash.db");
  const logPath = join(dir, "deliveries.log");
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children) child.kill("SIGKILL");
  });

  function startWorker(): Promise<ChildProcess> {
    const child = fork(join(import.meta.dirname, "worker-process.ts"), [dbPath, logPath, String(LEASE_MS)], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    children.push(child);
    return new Promise((resolve, reject) => {
      child.once("message", () => resolve(child));
      child.once("exit", (code) => reject(new Error(`worker exited early with ${code}`)));
    });
  }

  const deliveries = () => (existsSync(logPath) ? readFileSync(logPath, "utf8").split("\n").filter(Boolean) : []);

  it("loses nothing, and duplicates only jobs whose lease expired", async () => {
    const cb = new Checkback({ store: `sqlite:${dbPath}` });
    const queue = cb.queue<{ n: number }>("crash");
    const added = await queue.addBulk(
      Array.from({ length: JOBS }, (_, n) => ({ payload: { n }, options: { delay: (n % 10) * 50 } })),
    );

    const first = await startWorker();
    await waitFor(() => deliveries().length >= JOBS / 3, 30_000);
    first.kill("SIGKILL");
    await new Promise((resolve) => first.once("exit", resolve));

    // Jobs the dead worker held: they wait for their leases to run out, then run again.
    const heldAtKill = new Set<string>();
    for (let cursor: string | null = null; ; ) {
      const page = await queue.list("active", { limit: 1000, cursor });
      for (const job of page.jobs) heldAtKill.add(job.id);
      if (!page.next) break;
      cursor = page.next;
    }
    expect(heldAtKill.size).toBeGreaterThan(0);
    const deliveredBeforeRestart = deliveries().length;

    await startWorker();
    await waitFor(async () => (await queue.counts()).completed === JOBS, 60_000);
    // A fixed wait, for what must NOT happen: a run logged after its job completed.
    await sleep(100);

    const log = deliveries();
    const timesRun = new Map<string, number>();
    for (const id of log) timesRun.set(id, (timesRun.get(id) ?? 0) + 1);
    const duplicates = [...timesRun].filter(([, n]) => n > 1).map(([id]) => id);

    console.log(
      `crash test: ${JOBS} jobs, ${deliveredBeforeRestart} handler runs before SIGKILL, ${heldAtKill.size} leased at ` +
        `the kill, ${log.length} handler runs in all, ${duplicates.length} jobs ran twice (all among the leased)`,
    );
    expect(await queue.counts()).toMatchObject({ completed: JOBS, scheduled: 0, active: 0, dead: 0 });
    for (const job of added) expect(timesRun.get(job.id) ?? 0).toBeGreaterThanOrEqual(1);
    for (const id of duplicates) expect(heldAtKill.has(id)).toBe(true);
    for (const id of heldAtKill) {
      const job = await queue.get(id);
      // The expired lease is on record as a failed attempt.
      expect(job!.errors.map((e) => e.message)).toContain("lease expired");
    }
    await cb.close();
  }, 120_000);
});
