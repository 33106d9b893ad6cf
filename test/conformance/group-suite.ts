import { describe, expect, it } from "vitest";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { DEFAULT_BACKOFF } from "../../packages/checkback/src/core/backoff.js";
import type { JobRecord } from "../../packages/checkback/src/core/job.js";
import type { NewJob, Store } from "../../packages/checkback/src/stores/store.js";
import { type SlowDownOptions, slowDown } from "../../packages/checkback/src/worker/answers.js";
import { sleep, waitFor } from "../support/wait.js";

/**
 * Groups on one store (flow/groups.ts states the rule; docs/flow-control.md): run by
 * store-suite.ts for every store, so each keeps the same turn order, concurrency, group rate
 * limits and pauses.
 */
export function describeGroups(getStore: () => Store, newQueue: () => string): void {
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
  const LEASE = 60_000;
  const claim = async (store: Store, queue: string, limit: number, leaseMs = LEASE) =>
    store.claimDue(queue, { limit, leaseMs });
  const payloads = (jobs: JobRecord[]) => jobs.map((j) => JSON.parse(j.payload) as string);
  /** `count` due jobs of `group`, payloads "<group><i>", all due at `runAt`. */
  const groupJobs = (queue: string, group: string | null, count: number, runAt: number) =>
    Array.from({ length: count }, (_, i) => job(queue, { group, payload: `"${group ?? "-"}${i}"`, when: { runAt } }));

  describe("groups", () => {
    it("keeps a job's group, and a replace keeps the holder's group", async () => {
      const store = getStore();
      const queue = newQueue();
      const [a, b] = await store.add([
        job(queue, { group: "merchant-7", key: "k1" }),
        job(queue, { payload: '"plain"' }),
      ]);
      expect(a!.job.group).toBe("merchant-7");
      expect(b!.job.group).toBeNull();
      expect((await store.get(queue, a!.job.id))!.group).toBe("merchant-7");
      expect((await store.getByKey(queue, "k1"))!.group).toBe("merchant-7");
      const [again] = await store.add([
        job(queue, { group: "other", key: "k1", payload: '"new"', onDuplicate: "replace" }),
      ]);
      expect(again!.outcome).toBe("replaced");
      expect(again!.job.group).toBe("merchant-7");
      const listed = await store.list(queue, "scheduled", { limit: 10 });
      expect(listed.jobs.map((j) => j.group).sort()).toEqual(["merchant-7", null].sort());
      expect((await store.counts(queue)).scheduled).toBe(2);
      const state = await store.groupState(queue, "merchant-7");
      expect(state).toMatchObject({ group: "merchant-7", active: 0, scheduled: 1, pausedUntil: null, tokens: null });
      expect(state.limits).toEqual({ concurrency: null, limit: null });
    });

    it("serves groups in turn: one job per group per pass, however skewed the backlogs", async () => {
      const store = getStore();
      const queue = newQueue();
      const runAt = (await store.now()) - 5000;
      // "a" holds most of the backlog and was added first; b and c hold one job each.
      await store.add([
        ...groupJobs(queue, "a", 6, runAt),
        ...groupJobs(queue, "b", 1, runAt),
        ...groupJobs(queue, "c", 2, runAt),
      ]);
      // One at a time: a, b, c (all became ready at once: by name), then a (served before c
      // was), then c.
      // sleep: pacing, so each claim reads the clock at a later millisecond than the last.
      const one: string[] = [];
      for (let i = 0; i < 5; i++) {
        one.push(...payloads((await claim(store, queue, 1)).jobs));
        await sleep(3);
      }
      expect(one).toEqual(["a0", "b0", "c0", "a1", "c1"]);
      // The rest: only a is left.
      expect(payloads((await claim(store, queue, 10)).jobs)).toEqual(["a2", "a3", "a4", "a5"]);

      // In one batch, the same turns.
      const batch = newQueue();
      await store.add([
        ...groupJobs(batch, "a", 6, runAt),
        ...groupJobs(batch, "b", 1, runAt),
        ...groupJobs(batch, "c", 2, runAt),
      ]);
      expect(payloads((await claim(store, batch, 6)).jobs)).toEqual(["a0", "b0", "c0", "a1", "c1", "a2"]);
    });

    it("gives every group a turn before any group takes a second one", async () => {
      const store = getStore();
      const queue = newQueue();
      const runAt = (await store.now()) - 5000;
      const jobs = groupJobs(queue, "big", 60, runAt);
      for (let g = 0; g < 12; g++) jobs.push(...groupJobs(queue, `small-${String(g).padStart(2, "0")}`, 1, runAt + g));
      await store.add(jobs);
      const first = (await claim(store, queue, 13)).jobs;
      expect(new Set(first.map((j) => j.group)).size).toBe(13);
      const rest = (await claim(store, queue, 100)).jobs;
      expect(rest).toHaveLength(59);
      expect(rest.every((j) => j.group === "big")).toBe(true);
      // Within a group, jobs came out in the order added.
      expect(payloads(rest)).toEqual(Array.from({ length: 59 }, (_, i) => `big${i + 1}`));
    });

    it("interleaves grouped and ungrouped jobs by when each became ready", async () => {
      const store = getStore();
      const queue = newQueue();
      const now = await store.now();
      await store.add([
        job(queue, { payload: '"plain-early"', when: { runAt: now - 3000 } }),
        ...groupJobs(queue, "g", 2, now - 2000),
        job(queue, { payload: '"plain-late"', when: { runAt: now - 1000 } }),
      ]);
      // g0 ready at now−2000 goes after plain-early; g1's turn is at the claim instant, after
      // plain-late, which was due earlier than that.
      expect(payloads((await claim(store, queue, 10)).jobs)).toEqual(["plain-early", "g0", "plain-late", "g1"]);
    });

    it("never starts a grouped job before it is due, and a sleeping worker wakes for it", async () => {
      const store = getStore();
      const queue = newQueue();
      const now = await store.now();
      await store.add([
        job(queue, { group: "g", payload: '"later"', when: { runAt: now + 60_000 } }),
        job(queue, { group: "h", payload: '"now"', when: { runAt: now - 10 } }),
      ]);
      const claimed = await claim(store, queue, 10);
      expect(payloads(claimed.jobs)).toEqual(["now"]);
      expect(claimed.nextDueAt).toBe(now + 60_000);
    });

    it("keeps at most `concurrency` of a group's jobs active; a finish frees a place and wakes the worker", async () => {
      const store = getStore();
      const queue = newQueue();
      await store.setGroupLimits(queue, null, { concurrency: 2, limit: null });
      const runAt = (await store.now()) - 1000;
      await store.add([...groupJobs(queue, "m", 6, runAt), ...groupJobs(queue, "n", 1, runAt)]);
      const first = await claim(store, queue, 10);
      expect(payloads(first.jobs)).toEqual(["m0", "n0", "m1"]);
      // m is held by its concurrency: nothing else is due, so the worker sleeps (no spin).
      expect(first.nextDueAt).toBe(first.now + LEASE);
      expect((await claim(store, queue, 10)).jobs).toHaveLength(0);
      expect(await store.groupState(queue, "m")).toMatchObject({ active: 2, scheduled: 4 });
      expect((await store.flowSettings(queue)).groupLimits).toEqual({ concurrency: 2, limit: null });

      const woken: number[] = [];
      const unsubscribe = store.subscribe(queue, (at) => woken.push(at));
      try {
        const [m0, , m1] = first.jobs;
        await store.complete(queue, m0!.id, m0!.leaseToken!, { result: null });
        await waitFor(() => woken.length > 0, 5000);
        expect(payloads((await claim(store, queue, 10)).jobs)).toEqual(["m2"]);
        // Every road out of active frees the place: a failed attempt, a release, a cancel.
        await store.fail(queue, m1!.id, m1!.leaseToken!, { error: "boom", retryDelayMs: 3_600_000 });
        const [m3] = (await claim(store, queue, 10)).jobs;
        expect(payloads([m3!])).toEqual(["m3"]);
        await store.release(queue, m3!.id, m3!.leaseToken!, { delayMs: 3_600_000 });
        const [m4] = (await claim(store, queue, 10)).jobs;
        expect(payloads([m4!])).toEqual(["m4"]);
        await store.cancel(queue, { id: m4!.id });
        expect(payloads((await claim(store, queue, 10)).jobs)).toEqual(["m5"]);
        expect(await store.groupState(queue, "m")).toMatchObject({ active: 2, scheduled: 2 });
      } finally {
        unsubscribe();
      }
    });

    it("lets one group have its own limits over the queue's default, and lifts them", async () => {
      const store = getStore();
      const queue = newQueue();
      await store.setGroupLimits(queue, null, { concurrency: 1, limit: null });
      await store.setGroupLimits(queue, "vip", { concurrency: 3, limit: null });
      const runAt = (await store.now()) - 1000;
      await store.add([...groupJobs(queue, "vip", 5, runAt), ...groupJobs(queue, "std", 5, runAt)]);
      const claimed = await claim(store, queue, 20);
      expect(claimed.jobs.filter((j) => j.group === "vip")).toHaveLength(3);
      expect(claimed.jobs.filter((j) => j.group === "std")).toHaveLength(1);
      const vip = await store.groupState(queue, "vip");
      expect(vip).toMatchObject({ ownLimits: true, active: 3, scheduled: 2 });
      expect(vip.limits).toEqual({ concurrency: 3, limit: null });
      expect(await store.groupState(queue, "std")).toMatchObject({
        ownLimits: false,
        limits: { concurrency: 1, limit: null },
      });
      // Lifting vip's own limits puts it back on the default: no more starts while 3 are active.
      await store.setGroupLimits(queue, "vip", null);
      expect(await store.groupState(queue, "vip")).toMatchObject({ ownLimits: false, limits: { concurrency: 1 } });
      expect((await claim(store, queue, 20)).jobs).toHaveLength(0);
      // Lifting the default frees every group.
      await store.setGroupLimits(queue, null, null);
      expect((await claim(store, queue, 20)).jobs).toHaveLength(6);
      expect((await store.flowSettings(queue)).groupLimits).toBeNull();
    });

    it("charges each group's own bucket: a limited group waits, the others do not", async () => {
      const store = getStore();
      const queue = newQueue();
      await store.setGroupLimits(queue, "gateway", { concurrency: null, limit: { rate: 2, perMs: 60_000 } });
      const runAt = (await store.now()) - 1000;
      await store.add([...groupJobs(queue, "gateway", 5, runAt), ...groupJobs(queue, "free", 3, runAt)]);
      const claimed = await claim(store, queue, 20);
      expect(claimed.jobs.filter((j) => j.group === "gateway")).toHaveLength(2);
      expect(claimed.jobs.filter((j) => j.group === "free")).toHaveLength(3);
      // The next gateway start is allowed when a token has refilled: 30 s after the claim.
      expect(claimed.nextDueAt).not.toBeNull();
      expect(claimed.nextDueAt!).toBeGreaterThan(claimed.now + 25_000);
      expect(claimed.nextDueAt!).toBeLessThanOrEqual(claimed.now + 30_000);
      const state = await store.groupState(queue, "gateway");
      expect(state).toMatchObject({ tokens: 0, active: 2, scheduled: 3 });
      // Held-back jobs were not touched.
      const held = await store.list(queue, "scheduled", { limit: 10 });
      expect(held.jobs).toHaveLength(3);
      expect(held.jobs.every((j) => j.attempts === 0 && j.group === "gateway")).toBe(true);
      expect((await claim(store, queue, 20)).jobs).toHaveLength(0);
    });

    it("pauses one group until an instant; the others go on; resume lifts it", async () => {
      const store = getStore();
      const queue = newQueue();
      const runAt = (await store.now()) - 1000;
      await store.add([...groupJobs(queue, "slow", 2, runAt), ...groupJobs(queue, "fast", 2, runAt)]);
      await store.pauseGroup(queue, "slow", { delayMs: 60_000 });
      const claimed = await claim(store, queue, 10);
      expect(payloads(claimed.jobs)).toEqual(["fast0", "fast1"]);
      expect(claimed.nextDueAt!).toBeGreaterThanOrEqual(claimed.now + 59_000);
      const paused = await store.groupState(queue, "slow");
      expect(paused.pausedUntil!).toBeGreaterThanOrEqual(claimed.now + 59_000);
      await store.pauseGroup(queue, "slow", null);
      expect((await store.groupState(queue, "slow")).pausedUntil).toBeNull();
      expect(payloads((await claim(store, queue, 10)).jobs)).toEqual(["slow0", "slow1"]);
    });

    it("claims a grouped job again when its lease runs out, still counting it once", async () => {
      const store = getStore();
      const queue = newQueue();
      await store.setGroupLimits(queue, "g", { concurrency: 1, limit: null });
      const runAt = (await store.now()) - 1000;
      await store.add([...groupJobs(queue, "g", 2, runAt).map((j, i) => (i === 0 ? { ...j, maxAttempts: 2 } : j))]);
      const [first] = (await claim(store, queue, 10, 50)).jobs;
      expect(payloads([first!])).toEqual(["g0"]);
      // sleep: let the 50 ms lease run out.
      await sleep(120);
      const again = (await claim(store, queue, 10, 50)).jobs;
      expect(payloads(again)).toEqual(["g0"]);
      expect(again[0]!.attempts).toBe(2);
      expect(await store.groupState(queue, "g")).toMatchObject({ active: 1, scheduled: 1 });
      // Its attempts are used up when the lease runs out again: dead, and the place is free.
      await sleep(120);
      // The claim that finds the lease run out may start g1 itself or leave it to the next one.
      let third = (await claim(store, queue, 10, LEASE)).jobs;
      if (third.length === 0) third = (await claim(store, queue, 10, LEASE)).jobs;
      expect(payloads(third)).toEqual(["g1"]);
      expect((await store.get(queue, first!.id))!.state).toBe("dead");
      expect(await store.groupState(queue, "g")).toMatchObject({ active: 1, scheduled: 0 });
    });

    it("follows a group's jobs through reschedule, cancel and redrive", async () => {
      const store = getStore();
      const queue = newQueue();
      const now = await store.now();
      const [early, late] = await store.add([
        job(queue, { group: "g", payload: '"early"', when: { runAt: now + 3_600_000 } }),
        job(queue, { group: "g", payload: '"late"', when: { runAt: now + 7_200_000 } }),
      ]);
      expect((await claim(store, queue, 10)).nextDueAt).toBe(now + 3_600_000);
      await store.cancel(queue, { id: early!.job.id });
      expect((await claim(store, queue, 10)).nextDueAt).toBe(now + 7_200_000);
      await store.reschedule(queue, { id: late!.job.id }, { runAt: now - 1 });
      const [claimed] = (await claim(store, queue, 10)).jobs;
      expect(payloads([claimed!])).toEqual(["late"]);
      await store.fail(queue, claimed!.id, claimed!.leaseToken!, { error: "no", retryDelayMs: null });
      expect(await store.groupState(queue, "g")).toMatchObject({ active: 0, scheduled: 0 });
      expect(await store.redrive(queue, { ids: [claimed!.id] }, { delayMs: 0 })).toBe(1);
      expect(await store.groupState(queue, "g")).toMatchObject({ active: 0, scheduled: 1 });
      expect(payloads((await claim(store, queue, 10)).jobs)).toEqual(["late"]);
    });

    it("ends a check-like job from outside (settle) and frees its group's place", async () => {
      const store = getStore();
      const queue = newQueue();
      await store.setGroupLimits(queue, null, { concurrency: 1, limit: null });
      const runAt = (await store.now()) - 1000;
      await store.add([
        job(queue, { group: "g", key: "first", payload: '"first"', when: { runAt } }),
        job(queue, { group: "g", key: "second", payload: '"second"', when: { runAt } }),
      ]);
      expect(payloads((await claim(store, queue, 10)).jobs)).toEqual(["first"]);
      expect((await store.settle(queue, { key: "first" }, { result: '"paid"' })).changed).toBe(true);
      expect(payloads((await claim(store, queue, 10)).jobs)).toEqual(["second"]);
    });

    it("shows the busiest groups, most active first, and how many groups are active", async () => {
      const store = getStore();
      const queue = newQueue();
      const runAt = (await store.now()) - 1000;
      await store.add([
        ...groupJobs(queue, "one", 1, runAt),
        ...groupJobs(queue, "three", 3, runAt),
        ...groupJobs(queue, "two", 2, runAt),
        ...groupJobs(queue, "idle", 2, runAt + 3_600_000),
      ]);
      expect((await claim(store, queue, 10)).jobs).toHaveLength(6);
      const busiest = await store.busiestGroups(queue, 2);
      expect(busiest.activeGroups).toBe(3);
      expect(busiest.groups.map((g) => [g.group, g.active])).toEqual([
        ["three", 3],
        ["two", 2],
      ]);
      expect((await store.busiestGroups(queue, 10)).groups.map((g) => g.group)).toEqual(["three", "two", "one"]);
    });

    it("holds the queue's own limit over every group", async () => {
      const store = getStore();
      const queue = newQueue();
      try {
        await store.setRateLimit(queue, { rate: 3, perMs: 60_000 });
      } catch (error) {
        // A store that cannot keep a queue-wide limit says so; docs/flow-control.md lists none.
        throw new Error(`queue limits must work with groups: ${String(error)}`);
      }
      const runAt = (await store.now()) - 1000;
      await store.add([...groupJobs(queue, "a", 3, runAt), ...groupJobs(queue, "b", 3, runAt)]);
      const claimed = await claim(store, queue, 10);
      expect(payloads(claimed.jobs)).toEqual(["a0", "b0", "a1"]);
      expect((await claim(store, queue, 10)).jobs).toHaveLength(0);
    });

    /**
     * A worker (one job at a time, nothing prefetched) whose handler answers slowDown for the
     * jobs of group "slow" and completes every other: returns the payloads it started, the
     * errors it reported and the first job of "slow".
     */
    const slowDownRun = async (store: Store, queue: string, options?: SlowDownOptions) => {
      const cb = new Checkback({ store });
      const now = await store.now();
      const started: string[] = [];
      const reported: Error[] = [];
      const worker = cb.worker(
        queue,
        async (active) => {
          started.push(active.payload as string);
          return active.group === "slow" ? slowDown("30s", options) : "ok";
        },
        { concurrency: 1, prefetch: 0 },
      );
      worker.on("error", (error) => reported.push(error));
      const released = new Promise<void>((resolve) => worker.on("released", () => resolve()));
      try {
        const [first] = await store.add([
          ...groupJobs(queue, "slow", 2, now - 3000),
          ...groupJobs(queue, "fast", 2, now - 2000),
          job(queue, { payload: '"plain"', when: { runAt: now - 1000 } }),
        ]);
        await released;
        return { now, started, reported, worker, slow: first!.job };
      } catch (error) {
        await worker.close();
        throw error;
      }
    };

    it("a handler's slowDown on a grouped job pauses its group, not the queue", async () => {
      const store = getStore();
      const queue = newQueue();
      const { now, started, reported, worker, slow } = await slowDownRun(store, queue);
      try {
        // The other group and the ungrouped job go on; the paused group's second job waits.
        await waitFor(async () => (await store.counts(queue)).completed === 3, 10_000);
        expect(started.sort()).toEqual(["fast0", "fast1", "plain", "slow0"]);
        const back = (await store.get(queue, slow.id))!;
        expect(back).toMatchObject({ state: "scheduled", attempts: 0 });
        expect(back.runAt).toBeGreaterThanOrEqual(now + 29_000);
        const state = await store.groupState(queue, "slow");
        expect(state.pausedUntil!).toBeGreaterThanOrEqual(now + 29_000);
        expect(Math.abs(state.pausedUntil! - back.runAt)).toBeLessThan(1000);
        expect(state).toMatchObject({ active: 0, scheduled: 2 });
        expect((await store.flowSettings(queue)).pausedUntil).toBeNull();
        expect(reported).toEqual([]);
      } finally {
        await worker.close();
      }
    });

    it("a handler's slowDown with scope queue pauses the whole queue, group or not", async () => {
      const store = getStore();
      const queue = newQueue();
      const { now, started, worker } = await slowDownRun(store, queue, { scope: "queue" });
      try {
        const flow = await store.flowSettings(queue);
        expect(flow.pausedUntil).toBeGreaterThanOrEqual(now + 29_000);
        expect((await store.groupState(queue, "slow")).pausedUntil).toBeNull();
        // sleep: the paused queue must NOT start anything else meanwhile.
        await sleep(200);
        expect(started).toEqual(["slow0"]);
      } finally {
        await worker.close();
      }
    });

    it("a handler's slowDown with scope group on a job without a group releases it and reports the refusal", async () => {
      const store = getStore();
      const queue = newQueue();
      const cb = new Checkback({ store });
      const reported: Error[] = [];
      const worker = cb.worker(queue, async () => slowDown("30s", { scope: "group" }), { concurrency: 1, prefetch: 0 });
      worker.on("error", (error) => reported.push(error));
      const released = new Promise<void>((resolve) => worker.on("released", () => resolve()));
      try {
        const now = await store.now();
        const [added] = await store.add([job(queue, { payload: '"plain"' })]);
        await released;
        expect(reported[0]).toMatchObject({ code: "INVALID_OPTION" });
        const back = (await store.get(queue, added!.job.id))!;
        expect(back).toMatchObject({ state: "scheduled", attempts: 0 });
        expect(back.runAt).toBeGreaterThanOrEqual(now + 29_000);
        expect((await store.flowSettings(queue)).pausedUntil).toBeNull();
      } finally {
        await worker.close();
      }
    });

    it("refuses a bad group, a group with a priority, and bad group limits, storing nothing", async () => {
      const store = getStore();
      const cb = new Checkback({ store });
      const queue = cb.queue(newQueue());
      const bad: unknown[] = ["", "x".repeat(257), 42, "tab\there", ["g"]];
      for (const group of bad) {
        await expect(queue.add({}, { group: group as string })).rejects.toMatchObject({ code: "INVALID_OPTION" });
      }
      await expect(queue.add({}, { group: "g", priority: 3 })).rejects.toMatchObject({ code: "INVALID_OPTION" });
      expect((await queue.counts()).scheduled).toBe(0);
      const badLimits: unknown[] = [
        { concurrency: 0 },
        { concurrency: -1 },
        { concurrency: 1.5 },
        { concurrency: "2" },
        { rate: { rate: 0, per: "1s" } },
        { rate: { rate: 5, per: "never" } },
        { concurrency: 2, burst: 3 },
        "fast",
      ];
      for (const limits of badLimits) {
        await expect(queue.limitGroup("g", limits as never)).rejects.toMatchObject({
          code: expect.stringMatching(/^INVALID_/),
        });
        await expect(queue.limitGroups(limits as never)).rejects.toMatchObject({
          code: expect.stringMatching(/^INVALID_/),
        });
      }
      await expect(queue.limitGroup("", { concurrency: 1 })).rejects.toMatchObject({ code: "INVALID_OPTION" });
      await expect(queue.pauseGroup("", { delay: "1s" })).rejects.toMatchObject({ code: "INVALID_OPTION" });
      expect((await queue.groupState("g")).ownLimits).toBe(false);
      expect((await queue.flowSettings()).groupLimits).toBeNull();
    });
  });
}
