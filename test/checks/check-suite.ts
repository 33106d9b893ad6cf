import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { Check } from "../../packages/checkback/src/checks/check.js";
import type { CheckDefinition, CheckOutcome } from "../../packages/checkback/src/checks/types.js";
import { JobNotFoundError, ValidationError } from "../../packages/checkback/src/core/errors.js";
import { Queue } from "../../packages/checkback/src/queue/queue.js";
import type { Store } from "../../packages/checkback/src/stores/store.js";

/**
 * What a check suite needs from a backend: a store, and `peer()`, another handle on the same
 * data (a second connection, as a second process would have; the same object for memory).
 */
export interface CheckStoreHandle {
  store: Store;
  peer(): Store;
  close(): Promise<void>;
}

const SETTINGS = { maxPayloadBytes: 256 * 1024 };

interface Order {
  order: string;
}

/** Waits until `probe` returns a truthy value; the bound only stops a broken test from hanging. */
async function waitFor<T>(probe: () => T | Promise<T>, what: string, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A random number of steps, in the currencies an interleaving is made of: timer milliseconds
 * (a networked store's round trips), event-loop turns (a store may batch its calls per turn)
 * and microtask hops.
 */
async function randomSteps(maxMs: number): Promise<void> {
  const ms = Math.floor(Math.random() * (maxMs + 1));
  if (ms > 0) await sleep(ms);
  const turns = Math.floor(Math.random() * 4);
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
  const hops = Math.floor(Math.random() * 20);
  for (let i = 0; i < hops; i++) await null;
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

export function runCheckSuite(backend: string, open: () => Promise<CheckStoreHandle>): void {
  describe(`delayed checks on ${backend}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function setup() {
      const handle = await open();
      cleanups.push(() => handle.close());
      return handle;
    }

    /** A check on `store` with handlers that record every outcome delivered. */
    function define<R = unknown>(
      store: Store,
      definition: Partial<CheckDefinition<Order, R>> & Pick<CheckDefinition<Order, R>, "probe" | "schedule">,
      name = `pay_${randomUUID().slice(0, 8)}`,
    ) {
      const delivered: CheckOutcome<Order, R>[] = [];
      const record = (outcome: CheckOutcome<Order, R>) => {
        delivered.push(outcome);
      };
      const check = new Check<Order, R>(
        name,
        store,
        {
          onDone: record,
          onFailed: record,
          onGaveUp: record,
          worker: { concurrency: 20, shutdownTimeout: 200 },
          ...definition,
        },
        SETTINGS,
      );
      cleanups.push(() => check.close());
      return { check, delivered };
    }

    async function ended<R>(check: Check<Order, R>, key: string) {
      return waitFor(async () => {
        const status = await check.status(key);
        return status && status.state !== "running" && status.outcome?.state === "completed" ? status : null;
      }, `check ${key} to end and its outcome to be delivered`);
    }

    it("start is idempotent per key: the running check is returned, not a second one", async () => {
      const { store } = await setup();
      const { check } = define(store, { schedule: ["1h"], probe: (c) => c.pending() });
      const first = await check.start("T1", { order: "first" });
      const again = await check.start("T1", { order: "second" });
      expect(first).toMatchObject({ created: true, state: "running", key: "T1", input: { order: "first" }, probes: 0 });
      expect(again).toMatchObject({ created: false, checkId: first.checkId, input: { order: "first" } });
      expect((await store.counts(check.queueName)).scheduled).toBe(1);
      const other = await check.start("T2", { order: "other" });
      expect(other.checkId).not.toBe(first.checkId);
    });

    it("a probe rate is the check queue's rate limit: probes beyond it wait, untouched", async () => {
      const { store } = await setup();
      let probes = 0;
      const { check } = define(store, {
        schedule: ["10ms", "1h"],
        probe: (c) => {
          probes++;
          return c.pending();
        },
        probeRate: { rate: 1, per: "1m" },
      });
      await check.probeRateKept;
      expect((await store.flowSettings(check.queueName)).limit).toEqual({ rate: 1, perMs: 60_000 });
      for (const key of ["R1", "R2", "R3"]) await check.start(key, { order: key });
      await waitFor(() => probes === 1, "the one probe the bucket allows");
      // The bucket is empty for a minute: the other two checks' first probes wait, uncharged.
      await waitFor(async () => (await store.flowSettings(check.queueName)).tokens === 0, "an empty bucket");
      const statuses = await Promise.all(["R1", "R2", "R3"].map((key) => check.status(key)));
      expect(statuses.map((status) => status!.probes).sort()).toEqual([0, 0, 1]);
      expect(probes).toBe(1);
      expect(
        () =>
          new Check(
            "bad_rate",
            store,
            { schedule: ["1s"], probe: (c) => c.pending(), probeRate: { rate: 0, per: "1s" } },
            SETTINGS,
          ),
      ).toThrow(ValidationError);
    });

    it("a check with a group: every probe job carries it, and the probe rate is the group's, not the queue's", async () => {
      const { store } = await setup();
      let probes = 0;
      const name = `pay_${randomUUID().slice(0, 8)}`;
      // The group's concurrency, set apart from the definition, is kept beside its probe rate.
      await store.setGroupLimits(`check.${name}`, "alipay", { concurrency: 5, limit: null });
      const { check, delivered } = define(
        store,
        {
          schedule: ["10ms", "1h"],
          probe: (c) => {
            probes++;
            return c.pending();
          },
          group: "alipay",
          probeRate: { rate: 1, per: "1m" },
        },
        name,
      );
      await check.probeRateKept;
      expect((await store.flowSettings(check.queueName)).limit).toBeNull();
      expect(await store.groupState(check.queueName, "alipay")).toMatchObject({
        ownLimits: true,
        limits: { concurrency: 5, limit: { rate: 1, perMs: 60_000 } },
      });
      for (const key of ["G1", "G2", "G3"]) await check.start(key, { order: key });
      for (const key of ["G1", "G2", "G3"])
        expect((await store.getByKey(check.queueName, `check:${key}`))!.group).toBe("alipay");
      await waitFor(() => probes === 1, "the one probe the group's bucket allows");
      await waitFor(async () => (await store.groupState(check.queueName, "alipay")).tokens === 0, "an empty bucket");
      const statuses = await Promise.all(["G1", "G2", "G3"].map((key) => check.status(key)));
      expect(statuses.map((status) => status!.probes).sort()).toEqual([0, 0, 1]);
      // An outcome is not a probe: its delivery is outside the group, so the empty bucket does not hold it.
      const waiting = statuses.find((status) => status!.probes === 0)!;
      expect(await check.resolve(waiting.key, "paid")).toBe(true);
      await waitFor(() => delivered.length === 1, "the outcome delivered");
      expect(delivered[0]).toMatchObject({ key: waiting.key, state: "done", result: "paid" });
      expect(probes).toBe(1);
      // Lifting the probe rate (null) lifts the group's rate; its concurrency stays.
      const redefine = async (probeRate: null) => {
        const again = define(
          store,
          { schedule: ["1h"], probe: (c) => c.pending(), group: "alipay", probeRate, worker: false },
          check.name,
        );
        await again.check.probeRateKept;
        return store.groupState(check.queueName, "alipay");
      };
      expect(await redefine(null)).toMatchObject({ ownLimits: true, limits: { concurrency: 5, limit: null } });
      await store.setGroupLimits(check.queueName, "alipay", { concurrency: null, limit: { rate: 1, perMs: 1000 } });
      expect(await redefine(null)).toMatchObject({ ownLimits: false, limits: { concurrency: null, limit: null } });
      expect(
        () => new Check("bad_group", store, { schedule: ["1s"], probe: (c) => c.pending(), group: "" }, SETTINGS),
      ).toThrow(ValidationError);
    });

    it("probes on a list schedule, keeps each probe in the history, and gives up when it runs out", async () => {
      const { store } = await setup();
      const { check, delivered } = define(store, { schedule: ["20ms", "40ms", "20ms"], probe: (c) => c.pending() });
      const started = await check.start("T", { order: "A" });
      const status = await ended(check, "T");
      expect(status).toMatchObject({ state: "gave_up", endedBy: "schedule", reason: "schedule exhausted", probes: 3 });
      expect(status.history.map((h) => h.answer)).toEqual(["pending", "pending", "pending"]);
      // Each probe comes no earlier than its interval after the one before (one clock: the store's).
      const times = [started.startedAt, ...status.history.map((h) => h.at)];
      expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(20);
      expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(40);
      expect(times[3]! - times[2]!).toBeGreaterThanOrEqual(20);
      expect(delivered).toHaveLength(1);
      expect(delivered[0]).toMatchObject({
        state: "gave_up",
        key: "T",
        input: { order: "A" },
        probes: 3,
        checkId: started.checkId,
      });
    });

    it("{ every, times } probes that many times", async () => {
      const { store } = await setup();
      let calls = 0;
      const { check } = define(store, {
        schedule: { every: "15ms", times: 4 },
        probe: (c) => {
          calls += 1;
          expect(c.probe).toBe(calls);
          expect(c.history).toHaveLength(calls - 1);
          return c.pending();
        },
      });
      await check.start("T", { order: "A" });
      expect(await ended(check, "T")).toMatchObject({ state: "gave_up", probes: 4 });
      expect(calls).toBe(4);
    });

    it("a back-off schedule with a cap probes until the deadline, the last probe at the deadline", async () => {
      const { store } = await setup();
      const { check, delivered } = define(store, {
        schedule: { backoff: { delay: "10ms", factor: 2, max: "40ms" } },
        deadline: "250ms",
        probe: (c) => c.pending(),
      });
      const started = await check.start("T", { order: "A" });
      expect(started.deadlineAt).toBe(started.startedAt + 250);
      const status = await ended(check, "T");
      expect(status).toMatchObject({ state: "gave_up", endedBy: "deadline", reason: "deadline reached" });
      const times = status.history.map((h) => h.at);
      // 10, 20, 40, 40… ms apart, except the last gap, cut short by the deadline.
      for (let i = 1; i < times.length - 1; i++) {
        expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(Math.min(10 * 2 ** i, 40));
      }
      expect(times.at(-1)).toBeGreaterThanOrEqual(started.deadlineAt!);
      expect(times.slice(0, -1).every((t) => t < started.deadlineAt!)).toBe(true);
      expect(delivered).toMatchObject([{ state: "gave_up", endedBy: "deadline" }]);
    });

    it("done(result) ends the check and hands the result to onDone once", async () => {
      const { store } = await setup();
      const { check, delivered } = define<{ tradeNo: string }>(store, {
        schedule: { every: "10ms", times: 10 },
        probe: (c) => (c.probe === 3 ? c.done({ tradeNo: `T-${c.input.order}` }) : c.pending()),
      });
      await check.start("K", { order: "A" });
      const status = await ended(check, "K");
      expect(status).toMatchObject({ state: "done", endedBy: "probe", result: { tradeNo: "T-A" }, probes: 3 });
      expect(status.history.map((h) => h.answer)).toEqual(["pending", "pending", "done"]);
      await waitFor(() => delivered.length > 0, "the outcome to be delivered");
      expect(delivered).toMatchObject([{ state: "done", result: { tradeNo: "T-A" }, endedBy: "probe", probes: 3 }]);
      // The outcome's endedAt is the instant the check ended, on the store's clock.
      expect(Math.abs(delivered[0]!.endedAt - status.endedAt!)).toBeLessThanOrEqual(50);
    });

    it("failed(reason) ends the check and hands the reason to onFailed", async () => {
      const { store } = await setup();
      const { check, delivered } = define(store, {
        schedule: ["10ms", "10ms"],
        probe: (c) => c.failed("TRADE_CLOSED"),
      });
      await check.start("K", { order: "A" });
      expect(await ended(check, "K")).toMatchObject({ state: "failed", reason: "TRADE_CLOSED", probes: 1 });
      expect(delivered).toMatchObject([{ state: "failed", reason: "TRADE_CLOSED", result: null }]);
      expect((await check.status("K"))!.history).toMatchObject([{ answer: "failed", reason: "TRADE_CLOSED" }]);
    });

    it("a thrown error, a malformed answer and a timeout are recorded and absorbed by the schedule", async () => {
      const { store } = await setup();
      let aborted = false;
      const { check } = define(store, {
        schedule: { every: "10ms", times: 6 },
        probeTimeout: "50ms",
        probe: async (c) => {
          if (c.probe === 1) throw new Error("gateway unreachable");
          if (c.probe === 2) return { status: "maybe" } as never;
          if (c.probe === 3) {
            await new Promise((resolve) => c.signal.addEventListener("abort", resolve));
            aborted = true;
            return c.done("too late");
          }
          return c.done("paid");
        },
      });
      await check.start("K", { order: "A" });
      const status = await ended(check, "K");
      expect(status).toMatchObject({ state: "done", result: "paid", probes: 4 });
      expect(status.history).toMatchObject([
        { answer: "error", error: "gateway unreachable" },
        { answer: "error", error: expect.stringContaining('probe answered {"status":"maybe"}') },
        { answer: "error", error: "probe timed out after 50ms" },
        { answer: "done" },
      ]);
      expect(aborted).toBe(true);
      // Errors are the schedule's business, not job failures: the job never failed an attempt.
      expect((await store.getByKey(check.queueName, "check:K"))!.errors).toEqual([]);
    });

    it("resolve ends a running check at once, exactly once", async () => {
      const { store } = await setup();
      let probed = 0;
      const { check, delivered } = define(store, {
        schedule: ["1h"],
        probe: (c) => {
          probed += 1;
          return c.pending();
        },
      });
      await check.start("K", { order: "A" });
      expect(await check.resolve("K", { paid: true })).toBe(true);
      expect(await check.resolve("K", { paid: "again" })).toBe(false);
      expect(await check.reject("K", "closed")).toBe(false);
      const status = await ended(check, "K");
      expect(status).toMatchObject({ state: "done", endedBy: "resolve", result: { paid: true }, probes: 0 });
      expect(delivered).toMatchObject([
        { state: "done", endedBy: "resolve", result: { paid: true }, input: { order: "A" } },
      ]);
      expect(probed).toBe(0);
      await expect(check.resolve("nobody", 1)).rejects.toBeInstanceOf(JobNotFoundError);
    });

    it("reject ends a running check as failed", async () => {
      const { store } = await setup();
      const { check, delivered } = define(store, { schedule: ["1h"], probe: (c) => c.pending() });
      await check.start("K", { order: "A" });
      expect(await check.reject("K", "TRADE_CLOSED")).toBe(true);
      expect(await ended(check, "K")).toMatchObject({ state: "failed", endedBy: "reject", reason: "TRADE_CLOSED" });
      expect(delivered).toMatchObject([{ state: "failed", reason: "TRADE_CLOSED" }]);
    });

    it("cancel stops a check without an outcome", async () => {
      const { store } = await setup();
      let probed = 0;
      const { check, delivered } = define(store, {
        schedule: ["30ms", "30ms"],
        probe: (c) => {
          probed += 1;
          return c.pending();
        },
      });
      await check.start("K", { order: "A" });
      expect(await check.cancel("K")).toBe(true);
      expect(await check.cancel("K")).toBe(false);
      expect(await check.resolve("K", "late")).toBe(false);
      // A fixed wait, for what must NOT happen: a probe or a delivery after the cancel.
      await sleep(150);
      expect(await check.status("K")).toMatchObject({ state: "cancelled", endedBy: "cancel", outcome: null });
      expect(probed).toBe(0);
      expect(delivered).toEqual([]);
      await expect(check.cancel("nobody")).rejects.toBeInstanceOf(JobNotFoundError);
    });

    it("a probe that answers after the check was resolved changes nothing", async () => {
      const { store } = await setup();
      const probeStarted = deferred<void>();
      const release = deferred<void>();
      let leaseLost = 0;
      const { check, delivered } = define(store, {
        schedule: ["0s", "10ms"],
        probe: async (c) => {
          probeStarted.resolve();
          await release.promise;
          return c.done("from the probe");
        },
      });
      check.worker!.on("leaseLost", () => (leaseLost += 1));
      await check.start("K", { order: "A" });
      await probeStarted.promise;
      expect(await check.resolve("K", "from the notification")).toBe(true);
      release.resolve();
      await waitFor(() => leaseLost === 1, "the probe's worker to lose its lease");
      const status = await ended(check, "K");
      expect(status).toMatchObject({ state: "done", endedBy: "resolve", result: "from the notification" });
      await waitFor(() => delivered.length > 0, "the outcome to be delivered");
      expect(delivered).toMatchObject([{ result: "from the notification" }]);
    });

    it("a pending answer after cancel does not bring the check back", async () => {
      const { store } = await setup();
      const probeStarted = deferred<void>();
      const release = deferred<void>();
      let probes = 0;
      const { check } = define(store, {
        schedule: ["0s", "10ms", "10ms"],
        probe: async (c) => {
          probes += 1;
          probeStarted.resolve();
          await release.promise;
          return c.pending();
        },
      });
      await check.start("K", { order: "A" });
      await probeStarted.promise;
      expect(await check.cancel("K")).toBe(true);
      release.resolve();
      // A fixed wait, for what must NOT happen: the late pending answer scheduling another probe.
      await sleep(100);
      expect(await check.status("K")).toMatchObject({ state: "cancelled", probes: 0 });
      expect(probes).toBe(1);
    });

    it("probe and resolve racing on many checks: exactly one outcome each, matching the status", async () => {
      const { store } = await setup();
      const keys = Array.from({ length: 60 }, (_, i) => `K${i}`);
      const resolved = new Map<string, Promise<boolean>>();
      const { check, delivered } = define<string>(store, {
        schedule: { every: "5ms", times: 50 },
        probe: async (c) => {
          if (c.probe < 2) return c.pending();
          // The party's notification arrives just as the probe learns the same thing: both
          // leave the same timer tick and take a random number of steps to end the check, so
          // the interleavings of their store calls get tried.
          const go = sleep(1);
          resolved.set(
            c.key,
            go.then(() => randomSteps(6)).then(() => check.resolve(c.key, "notification")),
          );
          await go;
          // resolve makes two store calls to the probe's one: on a networked store the probe
          // must wait a little longer for resolve to win some races.
          await randomSteps(12);
          return c.done("probe");
        },
      });
      // A networked store's first calls on a connection are slow (scripts load): warm up the
      // resolve path first, so the race is between the two sides and not against a cold start.
      await check.start("warm-up", { order: "warm-up" });
      await check.resolve("warm-up", "warm-up");
      for (const key of keys) await check.start(key, { order: key });
      const statuses = await Promise.all(keys.map((key) => ended(check, key)));
      await waitFor(() => keys.every((key) => delivered.some((o) => o.key === key)), "an outcome for every check");
      // A fixed wait, for what must NOT happen: a second outcome for a check.
      await sleep(100);
      const wins = { probe: 0, resolve: 0 };
      for (const [i, key] of keys.entries()) {
        const resolveWon = await resolved.get(key)!;
        const winner = resolveWon ? "notification" : "probe";
        wins[resolveWon ? "resolve" : "probe"] += 1;
        const mine = delivered.filter((o) => o.key === key);
        expect(mine, key).toHaveLength(1);
        expect(mine[0]!.result, key).toBe(winner);
        expect(statuses[i], key).toMatchObject({ result: winner, endedBy: resolveWon ? "resolve" : "probe" });
      }
      console.log(`probe vs resolve on ${backend}: ${JSON.stringify(wins)}`);
      // Both sides won some races, or the test did not test a race.
      expect(wins.probe, JSON.stringify(wins)).toBeGreaterThan(0);
      expect(wins.resolve, JSON.stringify(wins)).toBeGreaterThan(0);
    });

    it("two workers on one queue: each probe runs once, each check ends once", async () => {
      const { store, peer } = await setup();
      const name = `pay_${randomUUID().slice(0, 8)}`;
      const seen = new Map<string, number[]>();
      const definition = {
        schedule: { every: "5ms", times: 10 },
        probe: async (c: { key: string; probe: number; done(r: unknown): never; pending(): never }) => {
          seen.set(c.key, [...(seen.get(c.key) ?? []), c.probe]);
          await sleep(Math.random() * 3);
          return c.probe === 4 ? c.done(c.key) : c.pending();
        },
      } as unknown as CheckDefinition<Order, unknown>;
      const a = define(store, definition, name);
      const b = define(peer(), definition, name);
      const workedBy = { a: 0, b: 0 };
      a.check.worker!.on("active", () => (workedBy.a += 1));
      b.check.worker!.on("active", () => (workedBy.b += 1));
      const keys = Array.from({ length: 80 }, (_, i) => `K${i}`);
      await Promise.all(keys.map((key, i) => (i % 2 ? a : b).check.start(key, { order: key })));
      await Promise.all(keys.map((key) => ended(a.check, key)));
      const delivered = () => [...a.delivered, ...b.delivered];
      await waitFor(() => keys.every((key) => delivered().some((o) => o.key === key)), "an outcome for every check");
      // A fixed wait, for what must NOT happen: a second probe or outcome for a check.
      await sleep(100);
      for (const key of keys) {
        expect(seen.get(key), key).toEqual([1, 2, 3, 4]);
        expect(
          [...a.delivered, ...b.delivered].filter((o) => o.key === key),
          key,
        ).toHaveLength(1);
      }
      expect(workedBy.a).toBeGreaterThan(0);
      expect(workedBy.b).toBeGreaterThan(0);
    });

    it("a stalled worker's late answer loses to the worker that took the check over", async () => {
      const { store, peer } = await setup();
      const name = `pay_${randomUUID().slice(0, 8)}`;
      // Worker A cannot extend its lease (a network partition), so its lease runs out mid-probe.
      const partitioned = new Proxy(store, {
        get(target, property, receiver) {
          if (property === "extendLease") return async () => Promise.reject(new Error("network unreachable"));
          const value = Reflect.get(target, property, receiver);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      const stalled = deferred<void>();
      const aStarted = deferred<void>();
      const a = define(
        partitioned,
        {
          schedule: ["0s", "1h"],
          // One slot, held by the stalled probe: A claims nothing more, as a stalled process would not.
          worker: { lease: "150ms", shutdownTimeout: 100, concurrency: 1 },
          probe: async (c) => {
            aStarted.resolve();
            await stalled.promise;
            return c.done("from A");
          },
        },
        name,
      );
      a.check.worker!.on("error", () => {});
      let aLostLease = 0;
      a.check.worker!.on("leaseLost", () => (aLostLease += 1));
      await a.check.start("K", { order: "A" });
      await aStarted.promise;
      const b = define(peer(), { schedule: ["0s", "1h"], probe: (c) => c.done("from B") }, name);
      const status = await ended(b.check, "K");
      expect(status).toMatchObject({ state: "done", result: "from B" });
      stalled.resolve();
      await waitFor(() => aLostLease === 1, "A to find its lease lost");
      await waitFor(() => a.delivered.length + b.delivered.length > 0, "B's outcome to be delivered");
      // A fixed wait, for what must NOT happen: A's late answer delivering a second outcome.
      await sleep(50);
      expect(await b.check.status("K")).toMatchObject({ state: "done", result: "from B" });
      expect([...a.delivered, ...b.delivered]).toMatchObject([{ result: "from B" }]);
      expect([...a.delivered, ...b.delivered]).toHaveLength(1);
    });

    it("outcome handlers are durable jobs: retried with back-off, dead-lettered, redriven", async () => {
      const { store } = await setup();
      let calls = 0;
      let healthy = false;
      const { check } = define(store, {
        schedule: ["0s"],
        probe: (c) => c.done("paid"),
        outcomeRetry: { attempts: 3, backoff: "10ms" },
        onDone: (outcome, context) => {
          calls += 1;
          expect(context).toMatchObject({ attempt: calls > 3 ? 1 : calls, maxAttempts: 3 });
          if (!healthy) throw new Error("order service down");
          return { marked: outcome.key };
        },
      });
      await check.start("K", { order: "A" });
      const dead = await waitFor(async () => {
        const status = await check.status("K");
        return status?.outcome?.state === "dead" ? status : null;
      }, "the outcome to go dead");
      expect(dead.state).toBe("done");
      expect(dead.outcome).toEqual({ state: "dead", attempts: 3, errors: Array(3).fill("order service down") });
      const queue = new Queue(check.queueName, store, { maxPayloadBytes: 1024, defaults: {} });
      const { jobs } = await queue.list("dead");
      expect(jobs).toHaveLength(1);
      healthy = true;
      expect(await queue.redrive("all")).toBe(1);
      const delivered = await ended(check, "K");
      expect(delivered.outcome).toMatchObject({ state: "completed", attempts: 1 });
      expect(calls).toBe(4);
    });

    it("a check outlives its worker: another worker continues it with its history", async () => {
      const { store, peer } = await setup();
      const name = `pay_${randomUUID().slice(0, 8)}`;
      const first = define(store, { schedule: { every: "20ms", times: 20 }, probe: (c) => c.pending() }, name);
      await first.check.start("K", { order: "A" });
      await waitFor(async () => ((await first.check.status("K"))?.probes ?? 0) >= 2, "two probes");
      await first.check.close();
      const before = (await first.check.status("K"))!;
      const second = define(
        peer(),
        {
          schedule: { every: "20ms", times: 20 },
          probe: (c) => (c.probe === before.probes + 2 ? c.done(c.history.length) : c.pending()),
        },
        name,
      );
      const status = await ended(second.check, "K");
      expect(status).toMatchObject({ state: "done", probes: before.probes + 2, result: before.probes + 1 });
      expect(status.history.slice(0, before.probes)).toEqual(before.history);
    });

    it("a key can be checked again once its check ended; status shows the newest", async () => {
      const { store } = await setup();
      const { check, delivered } = define(store, { schedule: ["0s"], probe: (c) => c.done(c.input.order) });
      const first = await check.start("K", { order: "first" });
      await ended(check, "K");
      const second = await check.start("K", { order: "second" });
      expect(second).toMatchObject({ created: true, state: "running" });
      expect(second.checkId).not.toBe(first.checkId);
      expect(await ended(check, "K")).toMatchObject({ checkId: second.checkId, result: "second" });
      await waitFor(() => delivered.length >= 2, "both outcomes to be delivered");
      expect(delivered.map((o) => o.result)).toEqual(["first", "second"]);
    });

    it("bad input is refused with a typed error and changes nothing", async () => {
      const { store } = await setup();
      const { check } = define(store, { schedule: ["1h"], probe: (c) => c.pending() });
      await expect(check.start("", { order: "A" })).rejects.toBeInstanceOf(ValidationError);
      await expect(check.start("x".repeat(600), { order: "A" })).rejects.toBeInstanceOf(ValidationError);
      await expect(check.start("K", { order: 1n } as never)).rejects.toMatchObject({ code: "INVALID_PAYLOAD" });
      await expect(check.start("K", { order: "x".repeat(300 * 1024) })).rejects.toMatchObject({
        code: "PAYLOAD_TOO_LARGE",
      });
      expect(await store.counts(check.queueName)).toMatchObject({ scheduled: 0 });
      expect(await check.status("K")).toBeNull();
      await check.start("R", { order: "A" });
      await expect(check.reject("R", 42 as never)).rejects.toBeInstanceOf(ValidationError);
      await expect(check.resolve("R", 10n as never)).rejects.toMatchObject({ code: "INVALID_PAYLOAD" });
      await expect(check.status("")).rejects.toBeInstanceOf(ValidationError);
      expect(await check.status("R")).toMatchObject({ state: "running" });
    });
  });
}
