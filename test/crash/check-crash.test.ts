import { type ChildProcess, fork } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { sleep, waitFor } from "../support/wait.js";
import { CRASH_CHECK } from "./check-definition.js";

const CHECKS = 120;

/**
 * A process running checks is killed with SIGKILL mid-probe; notifications keep arriving while
 * no worker runs; another process takes over. Every check still ends exactly once, keeps each
 * probe in its history once (a probe cut off by the kill runs again and is recorded then), and
 * its outcome reaches the handler — twice at most for outcomes whose delivery the kill cut off,
 * never with a different result.
 */
describe("crash: SIGKILL a process running delayed checks", () => {
  const dir = mkdtempSync(join(tmpdir(), "checkback-check-crash-"));
  const dbPath = join(dir, "checks.db");
  const logPath = join(dir, "log");
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  function startWorker(): Promise<ChildProcess> {
    const child = fork(join(import.meta.dirname, "check-process.ts"), [dbPath, logPath], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    children.push(child);
    return new Promise((resolve, reject) => {
      child.once("message", () => resolve(child));
      child.once("exit", (code) => reject(new Error(`check process exited early with ${code}`)));
    });
  }

  const log = () => (existsSync(logPath) ? readFileSync(logPath, "utf8").split("\n").filter(Boolean) : []);
  const outcomes = () => log().filter((line) => line.startsWith("outcome "));

  it("ends every check once and delivers its one outcome", async () => {
    const checkback = new Checkback({ store: `sqlite:${dbPath}` });
    const check = checkback.check(CRASH_CHECK.name, { ...CRASH_CHECK.definition, worker: false });
    const keys = Array.from({ length: CHECKS }, (_, n) => `order-${n}`);
    for (const [n, key] of keys.entries()) await check.start(key, { n });

    const first = await startWorker();
    // Half way: most checks are mid-schedule, a few may have ended.
    await waitFor(() => log().length >= CHECKS * 2.5, 60_000);
    first.kill("SIGKILL");
    await new Promise((resolve) => first.once("exit", resolve));

    // While nobody probes, the other party's notifications still end checks.
    const resolvedWhileDown: string[] = [];
    for (const key of keys.filter((_, n) => n % 4 === 0)) {
      if (await check.resolve(key, "notified")) resolvedWhileDown.push(key);
    }
    expect(resolvedWhileDown.length).toBeGreaterThan(0);

    await startWorker();
    await waitFor(async () => {
      for (const key of keys) {
        const status = await check.status(key);
        if (status?.outcome?.state !== "completed") return false;
      }
      return true;
    }, 60_000);
    // A fixed wait, for what must NOT happen: an outcome delivered twice.
    await sleep(100);

    const delivered = new Map<string, Set<string>>();
    let deliveries = 0;
    for (const line of outcomes()) {
      const [, key, checkId, result] = line.split(" ");
      delivered.set(key!, (delivered.get(key!) ?? new Set()).add(`${checkId} ${result}`));
      deliveries += 1;
    }
    for (const key of keys) {
      const status = (await check.status(key))!;
      expect(status.state, key).toBe("done");
      if (resolvedWhileDown.includes(key)) {
        expect(status).toMatchObject({ endedBy: "resolve", result: "notified" });
      } else {
        // Probes 1–5, each recorded once, even if the kill cut one off and it ran again.
        expect(status).toMatchObject({ endedBy: "probe", result: "probe-5", probes: 5 });
        expect(status.history.map((h) => h.answer)).toEqual(["pending", "pending", "pending", "pending", "done"]);
      }
      // One outcome per check: delivered at least once, and every delivery the same one.
      expect([...delivered.get(key)!], key).toEqual([`${status.checkId} ${JSON.stringify(status.result)}`]);
    }
    const probeRuns = log().filter((line) => line.startsWith("probe "));
    const rerun = probeRuns.length - new Set(probeRuns).size;
    console.log(
      `check crash test: ${CHECKS} checks, ${resolvedWhileDown.length} resolved while no worker ran, ` +
        `${probeRuns.length} probe runs (${rerun} cut off by the kill and run again), ` +
        `${deliveries} outcome deliveries for ${CHECKS} outcomes`,
    );
    await checkback.close();
  }, 120_000);
});
