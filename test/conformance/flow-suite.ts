import { describe, expect, it } from "vitest";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { DEFAULT_BACKOFF } from "../../packages/checkback/src/core/backoff.js";
import { PRIORITY_STEP_MS } from "../../packages/checkback/src/flow/priority.js";
import type { NewJob, Store } from "../../packages/checkback/src/stores/store.js";
import { slowDown } from "../../packages/checkback/src/worker/answers.js";

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

  describe("priorities", () => {
    it("claims due jobs of higher priority first, FIFO within a priority, and keeps the priority", async () => {
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

    it("never runs a job before it is due, however high its priority", async () => {
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

    it("ages: a job due long enough ago outranks a later one of higher priority", async () => {
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

    it("lists and counts prioritized jobs like any other", async () => {
      const store = getStore();
      const queue = newQueue();
      await store.add([job(queue, { priority: 4 }), job(queue), job(queue, { priority: -4 })]);
      expect((await store.counts(queue)).scheduled).toBe(3);
      const page = await store.list(queue, "scheduled", { limit: 10 });
      expect(page.jobs.map((j) => j.priority).sort()).toEqual([-4, 0, 4]);
    });

    it("lists scheduled jobs of every priority page by page, each once", async () => {
      const store = getStore();
      const queue = newQueue();
      const now = await store.now();
      const priorities = [3, 0, -2, 0, 3, 7, 0, -2];
      await store.add(
        priorities.map((priority, i) =>
          job(queue, { payload: `"${i}"`, when: { runAt: now + 60_000 + (i % 3) * 1000 }, priority }),
        ),
      );
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await store.list(queue, "scheduled", { limit: 3, cursor });
        seen.push(...page.jobs.map((j) => j.payload));
        cursor = page.next;
      } while (cursor !== null);
      // Every job exactly once across the pages, whichever order the store lists in.
      expect(seen.sort()).toEqual(priorities.map((_, i) => `"${i}"`).sort());
    });

    it("takes a cancelled or rescheduled prioritized job out of its place", async () => {
      const store = getStore();
      const queue = newQueue();
      const runAt = (await store.now()) - 1000;
      const [cancelled, moved] = await store.add([
        job(queue, { payload: '"cancelled"', when: { runAt }, priority: 5 }),
        job(queue, { payload: '"moved"', when: { runAt }, priority: 5 }),
        job(queue, { payload: '"plain"', when: { runAt } }),
      ]);
      await store.cancel(queue, { id: cancelled!.job.id });
      await store.reschedule(queue, { id: moved!.job.id }, { delayMs: 600_000 });
      const claimed = await store.claimDue(queue, { limit: 10, leaseMs: 3_600_000 });
      expect(claimed.jobs.map((j) => j.payload)).toEqual(['"plain"']);
      const rescheduled = await store.get(queue, moved!.job.id);
      expect(rescheduled).toMatchObject({ state: "scheduled", priority: 5 });
      expect(claimed.nextDueAt).toBe(rescheduled!.runAt);
    });

    it("ranks a job whose lease ran out by its priority", async () => {
      const store = getStore();
      const queue = newQueue();
      const runAt = (await store.now()) - 1000;
      await store.add([job(queue, { payload: '"high"', when: { runAt }, priority: 9 })]);
      const first = await store.claimDue(queue, { limit: 1, leaseMs: 50 });
      expect(first.jobs[0]?.priority).toBe(9);
      // Plain jobs due before the lease runs out, then the lease runs out.
      await store.add([job(queue, { payload: '"plain"', when: { runAt } })]);
      const deadline = Date.now() + 5000;
      let again: string | undefined;
      while (again === undefined && Date.now() < deadline) {
        const now = await store.now();
        if (now >= first.jobs[0]!.leaseExpiresAt! + 1) again = await claimOne(store, queue);
      }
      expect(again).toBe('"high"');
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

  describe("rate limits and pauses", () => {
    // Every store keeps them, a partitioned Redis included (docs/flow-control.md).
    const dueJobs = async (store: Store, queue: string, n: number) => {
      const runAt = (await store.now()) - 1000;
      await store.add(Array.from({ length: n }, (_, i) => job(queue, { payload: `"${i}"`, when: { runAt } })));
    };

    it("starts no more than the bucket holds, charges only what started, and says when the next start is allowed", async () => {
      const store = getStore();
      const queue = newQueue();
      await store.setRateLimit(queue, { rate: 3, perMs: 3000 });
      expect((await store.flowSettings(queue)).tokens).toBe(3);
      await dueJobs(store, queue, 10);
      const first = await store.claimDue(queue, { limit: 10, leaseMs: 60_000 });
      expect(first.jobs).toHaveLength(3);
      // The bucket is empty: what is due now waits (the server's held-back gauge reads this).
      expect((await store.flowSettings(queue)).tokens).toBe(0);
      // One token comes back per second: the worker sleeps until then, not before.
      expect(first.nextDueAt).not.toBeNull();
      expect(first.nextDueAt!).toBeGreaterThan(first.now);
      expect(first.nextDueAt!).toBeLessThanOrEqual(first.now + 1000);
      // Two claims at once share the bucket: together no more than what refilled since.
      const [a, b] = await Promise.all([
        store.claimDue(queue, { limit: 10, leaseMs: 60_000 }),
        store.claimDue(queue, { limit: 10, leaseMs: 60_000 }),
      ]);
      const refilled = Math.floor((Math.max(a.now, b.now) - first.now) / 1000);
      expect(a.jobs.length + b.jobs.length).toBeLessThanOrEqual(refilled);
      // Held-back jobs were not touched: still scheduled, no attempt charged.
      const started = 3 + a.jobs.length + b.jobs.length;
      expect((await store.counts(queue)).scheduled).toBe(10 - started);
      const held = await store.list(queue, "scheduled", { limit: 10 });
      expect(held.jobs.every((j) => j.attempts === 0)).toBe(true);
      // After the next start is allowed, the claim starts more.
      const deadline = Date.now() + 10_000;
      let later = 0;
      while (later === 0 && Date.now() < deadline) {
        later = (await store.claimDue(queue, { limit: 10, leaseMs: 60_000 })).jobs.length;
      }
      expect(later).toBeGreaterThanOrEqual(1);
      expect((await store.flowSettings(queue)).limit).toEqual({ rate: 3, perMs: 3000 });
      // Lifted: everything due starts.
      await store.setRateLimit(queue, null);
      const rest = await store.claimDue(queue, { limit: 10, leaseMs: 60_000 });
      expect(rest.jobs).toHaveLength(10 - started - later);
      expect((await store.flowSettings(queue)).limit).toBeNull();
    });

    it("pauses a queue until an instant: nothing starts, the worker sleeps until then; resume lifts it", async () => {
      const store = getStore();
      const queue = newQueue();
      await dueJobs(store, queue, 2);
      await store.pauseQueue(queue, { delayMs: 60_000 });
      const paused = await store.claimDue(queue, { limit: 10, leaseMs: 60_000 });
      expect(paused.jobs).toHaveLength(0);
      expect(paused.nextDueAt!).toBeGreaterThanOrEqual(paused.now + 59_000);
      const settings = await store.flowSettings(queue);
      expect(settings.pausedUntil!).toBeGreaterThanOrEqual(paused.now + 59_000);
      await store.pauseQueue(queue, null);
      expect((await store.claimDue(queue, { limit: 10, leaseMs: 60_000 })).jobs).toHaveLength(2);
      expect(await store.flowSettings(queue)).toEqual({
        limit: null,
        pausedUntil: null,
        tokens: null,
        groupLimits: null,
      });
    });

    it("a handler's slowDown releases its job without an attempt and pauses the queue until then", async () => {
      const store = getStore();
      const cb = new Checkback({ store });
      const name = newQueue();
      const calls: string[] = [];
      const refusals: Error[] = [];
      // One at a time, nothing prefetched: the first answer must stop the second start.
      const worker = cb.worker(
        name,
        async (job) => {
          calls.push(job.payload as string);
          return slowDown("30s");
        },
        { concurrency: 1, prefetch: 0 },
      );
      worker.on("error", (error) => refusals.push(error));
      const released = new Promise<void>((resolve) => worker.on("released", () => resolve()));
      try {
        const now = await store.now();
        const [first] = await store.add([
          job(name, { payload: '"first"', when: { runAt: now - 1000 } }),
          job(name, { payload: '"second"', when: { runAt: now - 500 } }),
        ]);
        await released;
        const back = (await store.get(name, first!.job.id))!;
        expect(back.state).toBe("scheduled");
        expect(back.attempts).toBe(0);
        expect(back.runAt).toBeGreaterThanOrEqual(now + 29_000);
        expect(refusals).toEqual([]);
        const flow = await store.flowSettings(name);
        expect(flow.pausedUntil!).toBeGreaterThanOrEqual(now + 29_000);
        expect(Math.abs(flow.pausedUntil! - back.runAt)).toBeLessThan(1000);
        // The second job was due too, but the paused queue started nothing more.
        expect(calls).toEqual(["first"]);
        expect((await store.claimDue(name, { limit: 10, leaseMs: 30_000 })).jobs).toHaveLength(0);
      } finally {
        await worker.close();
      }
    });

    it("refuses a bad limit or pause with a typed error and keeps nothing", async () => {
      const cb = new Checkback({ store: getStore() });
      const queue = cb.queue(newQueue());
      const bad = [
        { rate: 0, per: "1s" },
        { rate: -5, per: "1s" },
        { rate: 1.5, per: "1s" },
        { rate: "10", per: "1s" },
        { rate: 10, per: "0s" },
        { rate: 10, per: "soon" },
        { rate: 10, per: -1000 },
        "fast",
      ];
      for (const limit of bad) {
        // INVALID_OPTION, or the duration parser's own code for a malformed `per`.
        await expect(queue.limit(limit as never)).rejects.toMatchObject({ code: expect.stringMatching(/^INVALID_/) });
      }
      await expect(queue.pause({} as never)).rejects.toMatchObject({ code: "INVALID_OPTION" });
      expect(await queue.flowSettings()).toEqual({ limit: null, pausedUntil: null, tokens: null, groupLimits: null });
    });
  });
}
