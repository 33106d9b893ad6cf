import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { CheckbackError } from "../../packages/checkback/src/core/errors.js";
import type { JobRecord } from "../../packages/checkback/src/core/job.js";
import { SCHEDULES_QUEUE } from "../../packages/checkback/src/scans/definition.js";
import { type Firing, firingJob, planTicks, type TickerState } from "../../packages/checkback/src/scans/ticker.js";
import type { Store } from "../../packages/checkback/src/stores/store.js";

/**
 * What the schedule suite needs from a backend: a store, and `peer()`, another handle on the
 * same data (a second connection, as a second process would have; the same object for memory).
 */
export interface ScheduleStoreHandle {
  store: Store;
  peer(): Store;
  close(): Promise<void>;
}

async function waitFor<T>(probe: () => T | Promise<T>, what: string, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A store whose close() is left to the suite: an instance closing must not close a shared memory store. */
function borrowed(store: Store): Store {
  return new Proxy(store, {
    get(target, property) {
      if (property === "close") return async () => {};
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

interface Received {
  firing: Firing<unknown>;
  runAt: number;
  startedAt: number;
  instance: number;
}

const name = (what: string) => `${what}_${randomUUID().slice(0, 8)}`;
const tickOf = (r: Received) => Date.parse(r.firing.tick);

export function runScheduleSuite(backend: string, open: () => Promise<ScheduleStoreHandle>): void {
  describe(`schedules on ${backend}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function setup() {
      const handle = await open();
      cleanups.push(() => handle.close());
      const instances: Checkback[] = [];
      cleanups.push(async () => {
        for (const instance of instances) await instance.close();
      });
      /** A Checkback "process" on its own connection, recording the firings its workers run. */
      const instance = (received: Received[], queues: string[]) => {
        const index = instances.length;
        const checkback = new Checkback({ store: borrowed(index === 0 ? handle.store : handle.peer()) });
        instances.push(checkback);
        for (const queue of queues) {
          checkback.worker<Firing<unknown>>(queue, (job) => {
            received.push({ firing: job.payload, runAt: job.runAt, startedAt: job.startedAt, instance: index });
          });
        }
        return checkback;
      };
      return { handle, instance };
    }

    async function ticker(store: Store, schedule: string): Promise<JobRecord> {
      return (await store.getByKey(SCHEDULES_QUEUE, schedule))!;
    }

    async function waitingFirings(store: Store, queue: string, schedule: string): Promise<number[]> {
      const page = await store.list(queue, "scheduled", { limit: 1000 });
      return page.jobs.filter((job) => job.key?.startsWith(`${schedule}@`)).map((job) => job.runAt);
    }

    it("three processes define the same schedule: each of its 5 ticks fires exactly once, on time", async () => {
      const { instance } = await setup();
      const queue = name("nightly");
      const schedule = name("every_second");
      const received: Received[] = [];
      const processes = [0, 1, 2].map(() => instance(received, [queue]));
      const start = Math.ceil(Date.now() / 1000) * 1000 + 1000;
      const end = start + 4000;
      const definition = { every: "1s", start, end, queue, payload: { report: "daily" } };
      const defined = await Promise.all(processes.map((cb) => cb.schedules.define(schedule, definition)));
      expect(defined.map((d) => d.outcome).sort()).toEqual(["created", "unchanged", "unchanged"]);
      expect(defined[0]!.next).toEqual([start, start + 1000, start + 2000, start + 3000, start + 4000]);

      await waitFor(
        async () => (await processes[1]!.schedules.get(schedule))?.state === "ended",
        "the schedule to end",
      );
      await waitFor(() => received.length >= 5, "five firings");
      await sleep(300); // a duplicate would run at the same instant as its original
      const ticks = received.map(tickOf).sort((a, b) => a - b);
      expect(ticks).toEqual([start, start + 1000, start + 2000, start + 3000, start + 4000]);
      for (const r of received) {
        expect(r.firing).toMatchObject({ schedule, kind: "tick", payload: { report: "daily" } });
        expect(r.runAt).toBe(tickOf(r));
        // The firing waited in its queue: its lateness is the queue's, not a polling period.
        expect(r.startedAt - r.runAt).toBeLessThan(900);
      }
      // Defining it again once it has ended starts it over from now; the same definition while it runs changes nothing.
      const again = await processes[2]!.schedules.define(schedule, { ...definition, end: end + 3_600_000 });
      expect(again.outcome).toBe("created");
      expect((await processes[0]!.schedules.define(schedule, { ...definition, end: end + 3_600_000 })).outcome).toBe(
        "unchanged",
      );
    });

    it("every process down across several ticks: skip, latest and all hold on restart", async () => {
      const { handle, instance } = await setup();
      const queue = name("missed");
      const policies = {
        [name("skip")]: { missed: "skip" as const },
        [name("latest")]: { missed: "latest" as const },
        [name("all")]: { missed: "all" as const, maxMissed: 2 },
      };
      const received: Received[] = [];
      const defineAll = (cb: Checkback) =>
        Promise.all(
          Object.entries(policies).map(([s, extra]) => cb.schedules.define(s, { every: "1s", queue, ...extra })),
        );
      const before = [0, 1, 2].map(() => instance(received, [queue]));
      await Promise.all(before.map(defineAll));
      const seen = (s: string) => received.filter((r) => r.firing.schedule === s);
      await waitFor(() => Object.keys(policies).every((s) => seen(s).length >= 2), "two firings of each schedule");
      await Promise.all(before.map((cb) => cb.close()));
      // Every tick up to `after` was handed on before the outage (the one waiting fires on restart).
      const handedOn = new Map<string, number>();
      for (const s of Object.keys(policies)) {
        handedOn.set(s, JSON.parse((await ticker(handle.store, s)).payload).after);
      }
      await sleep(4_500); // the outage

      const after = [0, 1, 2].map(() => instance(received, [queue]));
      const redefined = await Promise.all(after.map(defineAll));
      expect(redefined.flat().every((d) => d.outcome === "unchanged")).toBe(true);
      const resumed = (s: string) => seen(s).filter((r) => r.firing.kind === "tick" && tickOf(r) > handedOn.get(s)!);
      await waitFor(() => Object.keys(policies).every((s) => resumed(s).length >= 3), "three ticks after the restart");

      for (const [s, { missed }] of Object.entries(policies)) {
        const last = handedOn.get(s)!;
        const ticks = seen(s).map(tickOf);
        expect(new Set(ticks).size, `${s}: each tick fired once`).toBe(ticks.length);
        expect(ticks, `${s}: the firing waiting through the outage ran`).toContain(last);
        const first = Math.min(...resumed(s).map(tickOf));
        // The outage outlasted the missed threshold by several ticks.
        expect(first - last).toBeGreaterThanOrEqual(3000);
        const missedTicks = seen(s)
          .filter((r) => r.firing.kind === "missed")
          .map(tickOf)
          .sort((a, b) => a - b);
        const expected = { skip: [], latest: [first - 1000], all: [first - 2000, first - 1000] }[missed];
        expect(missedTicks, `${s}: ${missed}`).toEqual(expected);
        // Nothing else fired inside the gap.
        expect(ticks.filter((t) => t > last && t < first).sort((a, b) => a - b)).toEqual(expected);
      }
    });

    it("pause, resume, update, trigger, list and remove", async () => {
      const { handle, instance } = await setup();
      const queue = name("managed");
      const schedule = name("managed");
      const received: Received[] = [];
      const cb = instance(received, [queue]);
      const mine = () => received.filter((r) => r.firing.schedule === schedule);
      await cb.schedules.define(schedule, { every: "1s", queue, payload: "v1" });
      await waitFor(() => mine().length >= 1, "a first firing");

      const paused = await cb.schedules.pause(schedule);
      expect(paused).toMatchObject({ state: "paused", next: [] });
      expect(await cb.schedules.pause(schedule)).toMatchObject({ state: "paused" });
      // The firing that waited for the next tick is withdrawn at once.
      expect(await waitingFirings(handle.store, queue, schedule)).toEqual([]);
      const pausedAt = await handle.store.now();
      await sleep(1_500);
      expect(mine().filter((r) => tickOf(r) > pausedAt)).toEqual([]);

      const resumed = await cb.schedules.resume(schedule);
      expect(resumed.state).toBe("active");
      expect(resumed.next).toHaveLength(5);
      const resumedAt = await handle.store.now();
      await waitFor(() => mine().some((r) => tickOf(r) > resumedAt), "a firing after resume");
      // The paused ticks were skipped, not missed.
      expect(mine().filter((r) => r.firing.kind === "missed")).toEqual([]);

      // A changed timetable takes effect from the next tick: the odd-second firing waiting is withdrawn.
      const updated = await cb.schedules.define(schedule, { every: "2s", queue, payload: "v2" });
      expect(updated.outcome).toBe("updated");
      expect(updated.next.every((t) => t % 2000 === 0)).toBe(true);
      const updatedAt = await handle.store.now();
      expect((await waitingFirings(handle.store, queue, schedule)).every((t) => t % 2000 === 0)).toBe(true);
      await waitFor(() => mine().filter((r) => tickOf(r) > updatedAt).length >= 2, "two firings after the update");
      const later = mine().filter((r) => tickOf(r) > updatedAt);
      for (const r of later) expect(r.firing).toMatchObject({ payload: "v2", kind: "tick" });
      expect(later.every((r) => tickOf(r) % 2000 === 0)).toBe(true);

      const triggered = await cb.schedules.trigger(schedule, { by: "hand" });
      expect(triggered.payload).toMatchObject({ schedule, kind: "trigger", payload: { by: "hand" } });
      await waitFor(() => mine().some((r) => r.firing.kind === "trigger"), "the triggered firing");

      const listed = await cb.schedules.list({ next: 3 });
      const entry = listed.find((s) => s.name === schedule)!;
      expect(entry).toMatchObject({ state: "active", definition: { everyMs: 2000, queue, payload: "v2" } });
      expect(entry.next).toHaveLength(3);

      expect(await cb.schedules.remove(schedule)).toBe(true);
      expect(await cb.schedules.get(schedule)).toBeNull();
      expect(await waitingFirings(handle.store, queue, schedule)).toEqual([]);
      expect(await cb.schedules.remove(schedule)).toBe(false);
      await expect(cb.schedules.pause(schedule)).rejects.toMatchObject({ code: "SCHEDULE_NOT_FOUND" });
      await expect(cb.schedules.trigger(schedule)).rejects.toMatchObject({ code: "SCHEDULE_NOT_FOUND" });
      expect((await cb.schedules.list()).some((s) => s.name === schedule)).toBe(false);
    });

    it("a schedule with a library handler runs in the process that handles it; the firing carries its tick", async () => {
      const { handle } = await setup();
      const cb = new Checkback({ store: borrowed(handle.store) });
      cleanups.push(() => cb.close());
      const schedule = name("handled");
      const firings: Firing<{ n: number }>[] = [];
      await cb.schedule(schedule, { cron: "* * * * * *", timezone: "Europe/Berlin", payload: { n: 7 } }, (job) => {
        firings.push(job.payload);
      });
      await waitFor(() => firings.length >= 2, "two firings");
      expect(firings[0]).toMatchObject({ schedule, kind: "tick", payload: { n: 7 } });
      expect(Date.parse(firings[1]!.tick) - Date.parse(firings[0]!.tick)).toBe(1000);
      expect(await handle.store.getByKey(`schedule.${schedule}`, `${schedule}@${firings[0]!.tick}`)).toMatchObject({
        state: "completed",
      });
    });

    it("a bad definition is refused naming the field, and nothing is stored", async () => {
      const { handle } = await setup();
      const cb = new Checkback({ store: borrowed(handle.store) });
      cleanups.push(() => cb.close());
      const schedule = name("bad");
      const bad: [unknown, string][] = [
        [{ cron: "*/0 * * * *", queue: "q" }, "cron"],
        [{ cron: "0 30 2 * * *", timezone: "Nowhere/Atlantis", queue: "q" }, "timezone"],
        [{ every: "500ms", queue: "q" }, "every"],
        [{ every: "1m", start: 5000, end: 1000, queue: "q" }, "end"],
        [{ every: "1m", missed: "all", maxMissed: 5000, queue: "q" }, "maxMissed"],
        [{ every: "1m" }, "queue"],
      ];
      for (const [definition, field] of bad) {
        const error = await cb.schedules.define(schedule, definition as never).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(CheckbackError);
        expect(error).toMatchObject({ code: "INVALID_OPTION", details: { field } });
      }
      expect(await handle.store.getByKey(SCHEDULES_QUEUE, schedule)).toBeNull();
    });

    it("a ticker whose process died mid-run is taken over after its lease, without a second firing", async () => {
      const { handle, instance } = await setup();
      const queue = name("crash");
      const schedule = name("crash");
      const received: Received[] = [];
      const first = instance(received, []);
      await first.schedules.define(schedule, { every: "1s", queue, missed: "skip" });
      // The "crash": claim the ticker as the dead process would have and never answer.
      await waitFor(async () => (await ticker(handle.store, schedule)).state === "scheduled", "the ticker to wait");
      await first.close();
      const state: TickerState = JSON.parse((await ticker(handle.store, schedule)).payload);
      const claimed = await waitFor(async () => {
        const { jobs } = await handle.store.claimDue(SCHEDULES_QUEUE, { limit: 1, leaseMs: 1_500 });
        return jobs.find((job) => job.key === schedule);
      }, "the ticker to come due");
      expect(claimed.state).toBe("active");
      // It had added the firing for the next tick before dying; the survivor's worker runs that
      // firing before the ticker's lease runs out, so the re-run finds it completed, not waiting.
      const plan = planTicks(state.definition, state.after, await handle.store.now());
      await handle.store.add(plan.firings.map((f) => firingJob(schedule, state.definition, f.tick, f.kind, 1 << 20)));
      const survivor = instance(received, [queue]);
      survivor.schedules.start();
      await waitFor(() => received.filter((r) => tickOf(r) > state.after + 2000).length >= 2, "firings after takeover");
      const ticks = received.map(tickOf);
      expect(ticks).toContain(plan.wakeAt);
      expect(new Set(ticks).size).toBe(ticks.length);
    });
  });
}
