import { describe, expect, it } from "vitest";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { DEFAULT_BACKOFF } from "../../packages/checkback/src/core/backoff.js";
import { PRIORITY_STEP_MS } from "../../packages/checkback/src/flow/priority.js";
import type { NewJob, Store } from "../../packages/checkback/src/stores/store.js";

/**
 * Flow control on one store (docs/flow-control.md): run by store-suite.ts for every store.
 */
export function describeFlow(getStore: () => Store, newQueue: () => string): void {
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
  const claimOne = async (store: Store, queue: string) =>
    (await store.claimDue(queue, { limit: 1, leaseMs: 30_000 })).jobs[0]?.payload;

  // Redis keeps no priorities yet: it refuses them (last test); the ordering tests are for the
  // stores that keep them.
  const keepsPriorities = () => getStore().kind !== "redis";

  describe("priorities", () => {
    it("refuses a prioritized job on a store that keeps no priorities, and stores nothing", async (ctx) => {
      if (keepsPriorities()) ctx.skip();
      const store = getStore();
      const queue = newQueue();
      await expect(store.add([job(queue), job(queue, { priority: 3 })])).rejects.toMatchObject({
        code: "INVALID_OPTION",
        details: { field: "priority" },
      });
      expect((await store.counts(queue)).scheduled).toBe(0);
    });

    it("claims due jobs of higher priority first, FIFO within a priority, and keeps the priority", async (ctx) => {
      if (!keepsPriorities()) ctx.skip();
      const store = getStore();
      const queue = newQueue();
      const runAt = (await store.now()) - 1000;
      const added = await store.add([
        job(queue, { payload: '"low"', when: { runAt }, priority: -3 }),
        job(queue, { payload: '"plain1"', when: { runAt } }),
        job(queue, { payload: '"high1"', when: { runAt }, priority: 7 }),
        job(queue, { payload: '"plain2"', when: { runAt } }),
        job(queue, { payload: '"high2"', when: { runAt }, priority: 7 }),
        job(queue, { payload: '"mid"', when: { runAt }, priority: 2 }),
      ]);
      expect(added.map((a) => a.job.priority)).toEqual([-3, 0, 7, 0, 7, 2]);
      expect((await store.get(queue, added[2]!.job.id))!.priority).toBe(7);
      // One at a time: each claim must take the best ranked of everything due.
      const order: string[] = [];
      for (let i = 0; i < 6; i++) order.push((await claimOne(store, queue))!);
      expect(order).toEqual(['"high1"', '"high2"', '"mid"', '"plain1"', '"plain2"', '"low"']);
      // And in one batch, the same order.
      const batch = newQueue();
      await store.add([
        job(batch, { payload: '"a"', when: { runAt } }),
        job(batch, { payload: '"b"', when: { runAt }, priority: 1 }),
        job(batch, { payload: '"c"', when: { runAt }, priority: 10 }),
      ]);
      const claimed = await store.claimDue(batch, { limit: 2, leaseMs: 30_000 });
      expect(claimed.jobs.map((j) => j.payload)).toEqual(['"c"', '"b"']);
    });

    it("never runs a job before it is due, however high its priority", async (ctx) => {
      if (!keepsPriorities()) ctx.skip();
      const store = getStore();
      const queue = newQueue();
      const now = await store.now();
      await store.add([
        job(queue, { payload: '"later"', when: { runAt: now + 60_000 }, priority: 10 }),
        job(queue, { payload: '"now"', when: { runAt: now - 10 }, priority: -10 }),
      ]);
      const claimed = await store.claimDue(queue, { limit: 10, leaseMs: 120_000 });
      expect(claimed.jobs.map((j) => j.payload)).toEqual(['"now"']);
      // The sleeping worker must wake for the prioritized job.
      expect(claimed.nextDueAt).toBe(now + 60_000);
    });

    it("ages: a job due long enough ago outranks a later one of higher priority", async (ctx) => {
      if (!keepsPriorities()) ctx.skip();
      const store = getStore();
      const queue = newQueue();
      const now = await store.now();
      // Priority −2 due 3 steps ago ranks at now − 1 step; priority 0 due now ranks at now;
      // priority 2 due now ranks at now − 2 steps.
      await store.add([
        job(queue, { payload: '"fresh"', when: { runAt: now } }),
        job(queue, { payload: '"old-low"', when: { runAt: now - 3 * PRIORITY_STEP_MS }, priority: -2 }),
        job(queue, { payload: '"fresh-high"', when: { runAt: now }, priority: 2 }),
      ]);
      const order: string[] = [];
      for (let i = 0; i < 3; i++) order.push((await claimOne(store, queue))!);
      expect(order).toEqual(['"fresh-high"', '"old-low"', '"fresh"']);
    });

    it("lists and counts prioritized jobs like any other", async (ctx) => {
      if (!keepsPriorities()) ctx.skip();
      const store = getStore();
      const queue = newQueue();
      await store.add([job(queue, { priority: 4 }), job(queue), job(queue, { priority: -4 })]);
      expect((await store.counts(queue)).scheduled).toBe(3);
      const page = await store.list(queue, "scheduled", { limit: 10 });
      expect(page.jobs.map((j) => j.priority).sort()).toEqual([-4, 0, 4]);
    });

    it("refuses a priority out of range or not an integer, and stores nothing", async () => {
      const cb = new Checkback({ store: getStore() });
      const queue = cb.queue(newQueue());
      for (const priority of [11, -11, 1.5, Number.NaN, "3"]) {
        await expect(queue.add({}, { priority: priority as number })).rejects.toMatchObject({
          code: "INVALID_OPTION",
          details: { field: "priority" },
        });
      }
      const job = await queue.add({}, { priority: 0 });
      expect(job.priority).toBe(0);
      expect((await queue.counts()).scheduled).toBe(1);
    });
  });
}
