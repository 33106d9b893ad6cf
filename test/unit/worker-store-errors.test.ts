import { fork } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { StoreClosedError, StoreUnavailableError } from "../../packages/checkback/src/core/errors.js";
import { MemoryStore } from "../../packages/checkback/src/stores/memory/memory-store.js";
import type { ClaimOptions, ClaimResult, Completion } from "../../packages/checkback/src/stores/store.js";
import { sleep, waitFor } from "../support/wait.js";

/** A memory store that can be taken "down": its calls then throw, as a store's would in an outage. */
class FlakyStore extends MemoryStore {
  down = false;
  claimsWhileDown = 0;
  /** Completions to refuse before letting them through. */
  failCompletions = 0;
  closedForGood = false;

  override async claimDue(queue: string, options: ClaimOptions): Promise<ClaimResult> {
    if (this.closedForGood) {
      this.claimsWhileDown += 1;
      throw new StoreClosedError("memory");
    }
    if (this.down) {
      this.claimsWhileDown += 1;
      throw new StoreUnavailableError("connection refused");
    }
    return super.claimDue(queue, options);
  }

  override async extendLease(queue: string, id: string, token: string, leaseMs: number): Promise<number> {
    if (this.down) throw new StoreUnavailableError("connection refused");
    return super.extendLease(queue, id, token, leaseMs);
  }

  override async complete(queue: string, id: string, token: string, completion: Completion): Promise<void> {
    if (this.down || this.failCompletions > 0) {
      this.failCompletions -= 1;
      throw new StoreUnavailableError("connection reset");
    }
    return super.complete(queue, id, token, completion);
  }
}

describe("worker over a failing store, with no error listener", () => {
  const open: Checkback[] = [];
  afterEach(async () => {
    vi.restoreAllMocks();
    await Promise.all(open.splice(0).map((cb) => cb.close()));
  });

  function checkback(store: MemoryStore, onError?: (error: Error) => void): Checkback {
    const cb = new Checkback({ store, ...(onError ? { onError } : {}) });
    open.push(cb);
    return cb;
  }

  it("keeps claiming with back-off through an outage and completes every job after it", async () => {
    const store = new FlakyStore();
    const reported: Error[] = [];
    const cb = checkback(store, (error) => reported.push(error));
    const queue = cb.queue("outage");
    store.down = true;
    const done = new Set<number>();
    const worker = cb.worker<{ n: number }>("outage", (job) => {
      done.add(job.payload.n);
    });
    expect(worker.listenerCount("error")).toBe(0);

    // Jobs keep arriving during the outage: their wake-ups must not turn the back-off into a hot loop.
    const outageStart = Date.now();
    for (let n = 0; n < 30; n++) {
      await queue.add({ n });
      await sleep(50);
    }
    const outageMs = Date.now() - outageStart;
    // Back-off doubling from 100 ms: 100+200+400+800 ms ≥ 1.5 s, so at most ~6 claims, never one per wake-up.
    expect(outageMs).toBeGreaterThanOrEqual(1_500);
    expect(store.claimsWhileDown).toBeGreaterThanOrEqual(2);
    expect(store.claimsWhileDown).toBeLessThanOrEqual(8);
    expect(reported.length).toBe(store.claimsWhileDown);
    expect(reported[0]).toBeInstanceOf(StoreUnavailableError);

    store.down = false;
    await waitFor(async () => (await queue.counts()).completed === 30, 10_000);
    expect(done.size).toBe(30);

    // Recovered: the back-off is reset, a new job runs at once.
    const before = Date.now();
    await queue.add({ n: 30 });
    await waitFor(() => done.has(30), 1_000);
    expect(Date.now() - before).toBeLessThan(500);
  });

  it("retries a completion the store refused while the lease holds", async () => {
    const store = new FlakyStore();
    const reported: Error[] = [];
    const cb = checkback(store, (error) => reported.push(error));
    const queue = cb.queue("settle");
    store.failCompletions = 2;
    const worker = cb.worker("settle", () => "ok");
    const completed = vi.fn();
    worker.on("completed", completed);
    const job = await queue.add({});
    await waitFor(async () => (await queue.get(job.id))?.state === "completed", 5_000);
    expect((await queue.get(job.id))?.attempts).toBe(1);
    expect(completed).toHaveBeenCalledTimes(1);
    expect(reported.length).toBeGreaterThanOrEqual(1);
  });

  it("stops claiming when the store is closed for good, reporting it once", async () => {
    const store = new FlakyStore();
    const reported: Error[] = [];
    const cb = checkback(store, (error) => reported.push(error));
    store.closedForGood = true;
    cb.worker("closed", () => {});
    await waitFor(() => store.claimsWhileDown === 1, 1_000);
    // A wake-up (a job added) must not restart the loop either.
    await cb.queue("closed").add({});
    await sleep(600);
    expect(store.claimsWhileDown).toBe(1);
    expect(reported).toHaveLength(1);
    expect((reported[0] as StoreClosedError).code).toBe("STORE_CLOSED");
  });

  it("reports through a rate-limited process warning by default", async () => {
    const warnings: string[] = [];
    vi.spyOn(process, "emitWarning").mockImplementation(((message: string | Error) => {
      warnings.push(String(message));
    }) as typeof process.emitWarning);
    const store = new FlakyStore();
    store.down = true;
    const cb = checkback(store);
    cb.worker("quiet", () => {});
    await waitFor(() => store.claimsWhileDown >= 4, 5_000);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("quiet");
    expect(warnings[0]).toContain("connection refused");
  });

  it("an error listener receives the errors instead of the reporter", async () => {
    const store = new FlakyStore();
    const reported: Error[] = [];
    const cb = checkback(store, (error) => reported.push(error));
    store.down = true;
    const heard: Error[] = [];
    cb.worker("heard", () => {}).on("error", (error) => heard.push(error));
    await waitFor(() => heard.length >= 2, 2_000);
    expect(reported).toHaveLength(0);
  });

  it("a process whose SQLite store is closed under its worker keeps running", async () => {
    const child = fork(join(import.meta.dirname, "../fault/sqlite-closed-child.ts"), [], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    });
    let stderr = "";
    child.stderr!.on("data", (chunk) => (stderr += chunk));
    const messages: string[] = [];
    child.on("message", (message) => messages.push(String(message)));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect({ code, messages }).toEqual({ code: 0, messages: ["survived"] });
    expect(stderr).toContain("STORE_CLOSED");
  }, 30_000);
});
