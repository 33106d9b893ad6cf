import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { MemoryStore } from "../../packages/checkback/src/stores/memory/memory-store.js";
import type { ClaimOptions, ClaimResult } from "../../packages/checkback/src/stores/store.js";
import { waitFor } from "../support/wait.js";

/**
 * A memory store whose claims take a few milliseconds, as they do over a network: what makes
 * holding jobs ahead of the handlers worth it (or not).
 */
class DistantStore extends MemoryStore {
  constructor(private readonly claimLatencyMs: number) {
    super();
  }

  override async claimDue(queue: string, options: ClaimOptions): Promise<ClaimResult> {
    await sleep(this.claimLatencyMs);
    return super.claimDue(queue, options);
  }
}

describe("worker prefetch", () => {
  const open: Checkback[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((cb) => cb.close()));
  });

  function checkback(store: MemoryStore): Checkback {
    const cb = new Checkback({ store });
    open.push(cb);
    return cb;
  }

  it("holds jobs ahead of fast handlers, and gives them back at once on close", async () => {
    const cb = checkback(new DistantStore(5));
    const queue = cb.queue("fast");
    await queue.addBulk(Array.from({ length: 40 }, (_, n) => ({ payload: { n } })));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let runs = 0;
    const worker = cb.worker(
      "fast",
      (job) => {
        runs += 1;
        // Ten quick jobs teach the worker its handlers are fast; the eleventh blocks its one slot.
        if ((job.payload as { n: number }).n === 10) return gate;
        return undefined;
      },
      { concurrency: 1, prefetch: 5, shutdownTimeout: "10s" },
    );
    // One job runs and more are leased to this worker, waiting for its slot.
    await waitFor(async () => runs >= 11 && (await queue.counts()).active === 6, 5_000);
    expect(worker.activeCount).toBe(1);

    // close() waits for the running handler, but the held jobs go back to the queue now.
    const closing = worker.close();
    await waitFor(async () => (await queue.counts()).active === 1, 1_000);
    const scheduled = (await queue.list("scheduled", { limit: 100 })).jobs;
    expect(scheduled.length).toBeGreaterThanOrEqual(5);
    expect(scheduled.every((job) => job.attempts === 0)).toBe(true);

    release();
    await closing;
    expect(await queue.counts()).toMatchObject({ active: 0, completed: 11, scheduled: 29 });
  });

  it("does not hold jobs behind slow handlers that another worker could run", async () => {
    const cb = checkback(new DistantStore(5));
    const queue = cb.queue("slow");
    await queue.addBulk(Array.from({ length: 12 }, (_, n) => ({ payload: { n } })));
    const ranBy = { first: 0, second: 0 };
    const slow = (who: keyof typeof ranBy) => async () => {
      ranBy[who] += 1;
      await sleep(150);
    };
    const first = cb.worker("slow", slow("first"), { concurrency: 2 });
    await waitFor(() => ranBy.first >= 2, 2_000);
    const second = cb.worker("slow", slow("second"), { concurrency: 2 });
    await waitFor(async () => (await queue.counts()).completed === 12, 10_000);
    await Promise.all([first.close(), second.close()]);
    // With no jobs held back by the first worker, the two share the work about evenly.
    expect(ranBy.second).toBeGreaterThanOrEqual(4);
  });

  it("drops a held job whose lease is lost (cancelled while it waited) without running it", async () => {
    const store = new DistantStore(5);
    const refusedLeases: string[] = [];
    const extendLease = store.extendLease.bind(store);
    store.extendLease = (queue, id, token, leaseMs) =>
      extendLease(queue, id, token, leaseMs).catch((error: unknown) => {
        refusedLeases.push(id);
        throw error;
      });
    const cb = checkback(store);
    const queue = cb.queue("lost");
    const added = await queue.addBulk(Array.from({ length: 20 }, (_, n) => ({ payload: { n } })));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const ran: number[] = [];
    const lost: string[] = [];
    const worker = cb.worker(
      "lost",
      (job) => {
        const { n } = job.payload as { n: number };
        ran.push(n);
        if (n === 10) return gate;
        return undefined;
      },
      { concurrency: 1, prefetch: 5, lease: "300ms" },
    );
    worker.on("leaseLost", (job) => lost.push(job.id));
    await waitFor(async () => ran.includes(10) && (await queue.counts()).active === 6, 5_000);
    const waiting = added[11]!;
    expect((await queue.get(waiting.id))!.state).toBe("active");
    expect(await queue.cancel({ id: waiting.id })).toBe(true);
    // The heartbeat (every 100 ms here) finds the held job's lease gone.
    await waitFor(() => refusedLeases.includes(waiting.id), 5_000);
    release();
    await waitFor(async () => (await queue.counts()).completed === 19, 5_000);
    await worker.close();
    expect(ran).not.toContain(11);
    expect(lost).toEqual([waiting.id]);
    expect((await queue.get(waiting.id))!.state).toBe("cancelled");
  });

  it("gives back at once what a claim in flight brings after close() began", async () => {
    const cb = checkback(new DistantStore(200));
    const queue = cb.queue("closing");
    await queue.addBulk(Array.from({ length: 5 }, (_, n) => ({ payload: { n } })));
    let runs = 0;
    const worker = cb.worker(
      "closing",
      () => {
        runs += 1;
      },
      { concurrency: 5 },
    );
    await sleep(50); // the first claim is on its way
    const started = performance.now();
    await worker.close({ timeout: "10s" });
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(runs).toBe(0);
    const jobs = (await queue.list("scheduled", { limit: 10 })).jobs;
    expect(jobs).toHaveLength(5);
    expect(jobs.every((job) => job.attempts === 0)).toBe(true);
  });

  it.each([[-1], [1.5], ["4"], [100_001]])("refuses prefetch %j", (prefetch) => {
    const cb = checkback(new MemoryStore());
    expect(() => cb.worker("q", () => {}, { prefetch: prefetch as number, autostart: false })).toThrow(
      /prefetch must be an integer from 0 to 100000/,
    );
  });
});
