import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { DEFAULT_BACKOFF } from "../../packages/checkback/src/core/backoff.js";
import { CheckbackError, LeaseLostError } from "../../packages/checkback/src/core/errors.js";
import type { NewJob, Store, When } from "../../packages/checkback/src/stores/store.js";
import { later } from "../../packages/checkback/src/worker/answers.js";
import { sleep, waitFor } from "../support/wait.js";
import { describeFlow } from "./flow-suite.js";
import { describeGroups } from "./group-suite.js";

/**
 * The one conformance suite every Store passes. Each test works in queues of its own (random
 * names), so one store instance — and one shared Redis or PostgreSQL — serves the whole suite.
 */
export interface OpenedStore {
  store: Store;
  close(): Promise<void>;
  /**
   * Another instance on the same backing data (file, server, schema, prefix), for tests that
   * must close a store while the suite's own stays open; the test closes it, and `close()`
   * above tidies up whatever it left.
   */
  sibling(): Store;
  /**
   * For a store whose clock the test injects (memory, SQLite): moves that clock forward, so
   * lease expiry is tested without waiting. Absent for a store on a server's clock, whose
   * tests wait for real time to pass.
   */
  advanceClock?(ms: number): void;
}

export function runStoreConformance(name: string, open: () => Promise<OpenedStore>): void {
  describe(`Store conformance: ${name}`, () => {
    let opened: OpenedStore;
    let store: Store;
    beforeAll(async () => {
      opened = await open();
      store = opened.store;
    });
    afterAll(async () => {
      await opened?.close();
    });

    const newQueue = () => `t-${randomUUID().slice(0, 8)}`;
    const job = (queue: string, overrides: Partial<NewJob> = {}): NewJob => ({
      queue,
      key: null,
      payload: JSON.stringify({ n: 1 }),
      when: { delayMs: 0 },
      maxAttempts: 3,
      backoff: DEFAULT_BACKOFF,
      onDuplicate: "keep",
      ...overrides,
    });
    const at = (runAt: number): When => ({ runAt });
    const claimAll = (queue: string, leaseMs = 30_000) => store.claimDue(queue, { limit: 1000, leaseMs });
    /** Lets `ms` pass on the store's clock: moved forward when injected, else waited for. */
    const pass = async (ms: number) => (opened.advanceClock ? opened.advanceClock(ms) : sleep(ms));

    describe("adding and reading", () => {
      it("adds a job on the store's clock and reads it back", async () => {
        const queue = newQueue();
        const before = await store.now();
        const [added] = await store.add([job(queue, { when: { delayMs: 60_000 } })]);
        const after = await store.now();
        expect(added!.outcome).toBe("created");
        const got = await store.get(queue, added!.job.id);
        expect(got).toMatchObject({ queue, state: "scheduled", attempts: 0, maxAttempts: 3, payload: '{"n":1}' });
        expect(got!.runAt).toBeGreaterThanOrEqual(before + 60_000);
        expect(got!.runAt).toBeLessThanOrEqual(after + 60_000);
        expect(got!.createdAt).toBeGreaterThanOrEqual(before);
        expect(got!.backoff).toEqual(DEFAULT_BACKOFF);
        expect(await store.get(queue, "no-such-id")).toBeNull();
        expect(await store.get(newQueue(), added!.job.id)).toBeNull();
      });

      it("gives every job its own id", async () => {
        const queue = newQueue();
        const added = await store.add(Array.from({ length: 50 }, () => job(queue)));
        expect(new Set(added.map((a) => a.job.id)).size).toBe(50);
      });

      it("lists queues that hold jobs", async () => {
        const queue = newQueue();
        await store.add([job(queue)]);
        expect(await store.queues()).toContain(queue);
      });
    });

    describe("due order", () => {
      it("claims only due jobs, earliest first, FIFO within the same instant", async () => {
        const queue = newQueue();
        const now = await store.now();
        const added = await store.add([
          job(queue, { payload: '"late"', when: at(now + 60_000) }),
          job(queue, { payload: '"b1"', when: at(now - 500) }),
          job(queue, { payload: '"a"', when: at(now - 1000) }),
          job(queue, { payload: '"b2"', when: at(now - 500) }),
          job(queue, { payload: '"b3"', when: at(now - 500) }),
        ]);
        const claimed = await claimAll(queue);
        expect(claimed.jobs.map((j) => j.payload)).toEqual(['"a"', '"b1"', '"b2"', '"b3"']);
        // The active jobs' lease expiry (30 s) comes before the late job (60 s).
        expect(claimed.nextDueAt).toBe(claimed.now + 30_000);
        expect(added[0]!.job.runAt).toBeGreaterThan(claimed.now + 30_000);
        expect(claimed.now).toBeGreaterThanOrEqual(now);
        for (const j of claimed.jobs) {
          expect(j.state).toBe("active");
          expect(j.attempts).toBe(1);
          expect(j.leaseToken).toBeTruthy();
          expect(j.leaseExpiresAt).toBe(claimed.now + 30_000);
        }
        expect(new Set(claimed.jobs.map((j) => j.leaseToken)).size).toBe(4);
      });

      it("keeps FIFO order across many jobs added one by one for the same instant", async () => {
        const queue = newQueue();
        const runAt = (await store.now()) - 10;
        for (let i = 0; i < 30; i++) await store.add([job(queue, { payload: String(i), when: at(runAt) })]);
        const claimed = await claimAll(queue);
        expect(claimed.jobs.map((j) => Number(j.payload))).toEqual(Array.from({ length: 30 }, (_, i) => i));
      });

      it("respects the claim limit and reports what is left", async () => {
        const queue = newQueue();
        await store.add(Array.from({ length: 5 }, () => job(queue)));
        const first = await store.claimDue(queue, { limit: 2, leaseMs: 30_000 });
        expect(first.jobs).toHaveLength(2);
        expect(first.nextDueAt).not.toBeNull();
        expect(first.nextDueAt!).toBeLessThanOrEqual(first.now);
        const rest = await store.claimDue(queue, { limit: 10, leaseMs: 30_000 });
        expect(rest.jobs).toHaveLength(3);
        // What is left now is the active jobs' lease expiry.
        expect(rest.nextDueAt).toBe(first.now + 30_000);
      });

      it("returns nothing and no next due time for an empty or unknown queue", async () => {
        const result = await claimAll(newQueue());
        expect(result.jobs).toEqual([]);
        expect(result.nextDueAt).toBeNull();
      });
    });

    describe("keys", () => {
      it("keeps the existing unfinished job for a duplicate key", async () => {
        const queue = newQueue();
        const [first] = await store.add([job(queue, { key: "order-1", payload: '"v1"' })]);
        const [second] = await store.add([job(queue, { key: "order-1", payload: '"v2"' })]);
        expect(second!.outcome).toBe("existing");
        expect(second!.job.id).toBe(first!.job.id);
        expect((await store.get(queue, first!.job.id))!.payload).toBe('"v1"');
        expect((await store.counts(queue)).scheduled).toBe(1);
      });

      it("deduplicates keys within one bulk add", async () => {
        const queue = newQueue();
        const added = await store.add([job(queue, { key: "k" }), job(queue, { key: "k" }), job(queue, { key: "j" })]);
        expect(added.map((a) => a.outcome)).toEqual(["created", "existing", "created"]);
        expect(added[1]!.job.id).toBe(added[0]!.job.id);
      });

      it("replaces a scheduled job's payload and due time when asked", async () => {
        const queue = newQueue();
        const [first] = await store.add([job(queue, { key: "k", payload: '"v1"', when: { delayMs: 60_000 } })]);
        const [second] = await store.add([
          job(queue, { key: "k", payload: '"v2"', when: { delayMs: 0 }, onDuplicate: "replace" }),
        ]);
        expect(second!.outcome).toBe("replaced");
        expect(second!.job.id).toBe(first!.job.id);
        const claimed = await claimAll(queue);
        expect(claimed.jobs.map((j) => j.payload)).toEqual(['"v2"']);
      });

      it("never replaces an active job", async () => {
        const queue = newQueue();
        await store.add([job(queue, { key: "k", payload: '"v1"' })]);
        await claimAll(queue);
        const [again] = await store.add([job(queue, { key: "k", payload: '"v2"', onDuplicate: "replace" })]);
        expect(again!.outcome).toBe("existing");
        expect(again!.job.state).toBe("active");
        expect(again!.job.payload).toBe('"v1"');
      });

      it("frees the key when the job finishes, and getByKey then finds the newest", async () => {
        const queue = newQueue();
        const [first] = await store.add([job(queue, { key: "k" })]);
        const { jobs } = await claimAll(queue);
        await store.complete(queue, jobs[0]!.id, jobs[0]!.leaseToken!, { result: null });
        expect((await store.getByKey(queue, "k"))!.id).toBe(first!.job.id);
        const [second] = await store.add([job(queue, { key: "k", when: { delayMs: 60_000 } })]);
        expect(second!.outcome).toBe("created");
        expect(second!.job.id).not.toBe(first!.job.id);
        expect((await store.getByKey(queue, "k"))!.id).toBe(second!.job.id);
        expect(await store.getByKey(queue, "other")).toBeNull();
      });

      it("cancels and reschedules by key", async () => {
        const queue = newQueue();
        const [a] = await store.add([job(queue, { key: "a", when: { delayMs: 60_000 } })]);
        await store.add([job(queue, { key: "b", when: { delayMs: 60_000 } })]);
        const moved = await store.reschedule(queue, { key: "a" }, { delayMs: 0 });
        expect(moved.changed).toBe(true);
        expect(moved.job!.id).toBe(a!.job.id);
        const cancelled = await store.cancel(queue, { key: "b" });
        expect(cancelled).toMatchObject({ changed: true, job: { state: "cancelled" } });
        const claimed = await claimAll(queue);
        expect(claimed.jobs.map((j) => j.key)).toEqual(["a"]);
        expect(claimed.nextDueAt).toBe(claimed.now + 30_000);
      });
    });

    describe("cancel and reschedule", () => {
      it("never hands out a cancelled job", async () => {
        const queue = newQueue();
        const [added] = await store.add([job(queue)]);
        const result = await store.cancel(queue, { id: added!.job.id });
        expect(result.changed).toBe(true);
        expect((await claimAll(queue)).jobs).toEqual([]);
        expect((await store.counts(queue)).cancelled).toBe(1);
        // Cancelling again changes nothing; an unknown job is reported as such.
        expect((await store.cancel(queue, { id: added!.job.id })).changed).toBe(false);
        expect(await store.cancel(queue, { id: "nope" })).toEqual({ job: null, changed: false });
      });

      it("voids the lease of an active job it cancels", async () => {
        const queue = newQueue();
        await store.add([job(queue)]);
        const [held] = (await claimAll(queue)).jobs;
        expect((await store.cancel(queue, { id: held!.id })).changed).toBe(true);
        await expect(store.complete(queue, held!.id, held!.leaseToken!, { result: null })).rejects.toBeInstanceOf(
          LeaseLostError,
        );
        expect((await store.get(queue, held!.id))!.state).toBe("cancelled");
      });

      it("moves a scheduled job later or earlier, and refuses other states", async () => {
        const queue = newQueue();
        const [added] = await store.add([job(queue)]);
        const later = await store.reschedule(queue, { id: added!.job.id }, { delayMs: 60_000 });
        expect(later.changed).toBe(true);
        expect((await claimAll(queue)).jobs).toEqual([]);
        const now = await store.now();
        await store.reschedule(queue, { id: added!.job.id }, { runAt: now - 1 });
        const { jobs } = await claimAll(queue);
        expect(jobs).toHaveLength(1);
        const refused = await store.reschedule(queue, { id: added!.job.id }, { delayMs: 0 });
        expect(refused.changed).toBe(false);
        expect(refused.job!.state).toBe("active");
        expect(await store.reschedule(queue, { id: "nope" }, { delayMs: 0 })).toEqual({ job: null, changed: false });
      });
    });

    describe("leases", () => {
      it("a stale token can neither complete, fail, release nor extend", async () => {
        const queue = newQueue();
        await store.add([job(queue)]);
        const [held] = (await claimAll(queue)).jobs;
        const stale = "not-the-token";
        await expect(store.complete(queue, held!.id, stale, { result: null })).rejects.toBeInstanceOf(LeaseLostError);
        await expect(store.fail(queue, held!.id, stale, { error: "x", retryDelayMs: 0 })).rejects.toBeInstanceOf(
          LeaseLostError,
        );
        await expect(store.release(queue, held!.id, stale, { delayMs: 0 })).rejects.toBeInstanceOf(LeaseLostError);
        await expect(store.extendLease(queue, held!.id, stale, 1000)).rejects.toBeInstanceOf(LeaseLostError);
        await expect(store.complete(queue, "nope", stale, { result: null })).rejects.toBeInstanceOf(LeaseLostError);
        expect((await store.get(queue, held!.id))!.state).toBe("active");
        await store.complete(queue, held!.id, held!.leaseToken!, { result: '"ok"' });
        expect(await store.get(queue, held!.id)).toMatchObject({ state: "completed", result: '"ok"' });
        // Completing twice is a stale token too.
        await expect(store.complete(queue, held!.id, held!.leaseToken!, { result: null })).rejects.toBeInstanceOf(
          LeaseLostError,
        );
      });

      it("redelivers a job whose lease expired, and the old holder can no longer finish it", async () => {
        const queue = newQueue();
        await store.add([job(queue)]);
        const [first] = (await store.claimDue(queue, { limit: 1, leaseMs: 150 })).jobs;
        expect((await claimAll(queue)).jobs).toEqual([]);
        await pass(300);
        const [second] = (await claimAll(queue)).jobs;
        expect(second!.id).toBe(first!.id);
        expect(second!.leaseToken).not.toBe(first!.leaseToken);
        expect(second!.attempts).toBe(2);
        expect(second!.errors).toMatchObject([{ attempt: 1, message: "lease expired" }]);
        await expect(store.complete(queue, first!.id, first!.leaseToken!, { result: null })).rejects.toBeInstanceOf(
          LeaseLostError,
        );
        await store.complete(queue, second!.id, second!.leaseToken!, { result: null });
      });

      it("sends a job dead when its lease expires on the last attempt", async () => {
        const queue = newQueue();
        await store.add([job(queue, { maxAttempts: 1 })]);
        const [held] = (await store.claimDue(queue, { limit: 1, leaseMs: 100 })).jobs;
        await pass(250);
        expect((await claimAll(queue)).jobs).toEqual([]);
        expect(await store.get(queue, held!.id)).toMatchObject({ state: "dead", attempts: 1 });
      });

      it("extending a lease keeps the job from being redelivered", async () => {
        const queue = newQueue();
        await store.add([job(queue)]);
        const [held] = (await store.claimDue(queue, { limit: 1, leaseMs: 200 })).jobs;
        const before = await store.now();
        const expiresAt = await store.extendLease(queue, held!.id, held!.leaseToken!, 5_000);
        expect(expiresAt).toBeGreaterThanOrEqual(before + 5_000);
        await pass(350);
        expect((await claimAll(queue)).jobs).toEqual([]);
        expect((await store.get(queue, held!.id))!.leaseExpiresAt).toBe(expiresAt);
      });
    });

    describe("failing, releasing, completing", () => {
      it("a failure with a retry delay reschedules and records the error", async () => {
        const queue = newQueue();
        await store.add([job(queue)]);
        const [held] = (await claimAll(queue)).jobs;
        const now = await store.now();
        const after = await store.fail(queue, held!.id, held!.leaseToken!, {
          error: "gateway down",
          retryDelayMs: 60_000,
        });
        expect(after).toMatchObject({ state: "scheduled", attempts: 1, leaseToken: null });
        expect(after.runAt).toBeGreaterThanOrEqual(now + 60_000);
        expect(after.errors).toMatchObject([{ attempt: 1, message: "gateway down" }]);
        expect((await claimAll(queue)).jobs).toEqual([]);
      });

      it("a failure without a retry sends the job dead", async () => {
        const queue = newQueue();
        await store.add([job(queue, { key: "k" })]);
        const [held] = (await claimAll(queue)).jobs;
        const after = await store.fail(queue, held!.id, held!.leaseToken!, { error: "bad", retryDelayMs: null });
        expect(after.state).toBe("dead");
        expect((await store.counts(queue)).dead).toBe(1);
        // A dead job no longer holds its key.
        expect((await store.add([job(queue, { key: "k" })]))[0]!.outcome).toBe("created");
      });

      it("release gives the job back without spending the attempt, optionally with a new payload", async () => {
        const queue = newQueue();
        await store.add([job(queue)]);
        const [held] = (await claimAll(queue)).jobs;
        await store.release(queue, held!.id, held!.leaseToken!, { delayMs: 0, payload: '{"step":2}' });
        const [again] = (await claimAll(queue)).jobs;
        expect(again).toMatchObject({ id: held!.id, attempts: 1, payload: '{"step":2}', errors: [] });
        await store.release(queue, again!.id, again!.leaseToken!, { delayMs: 60_000 });
        const got = await store.get(queue, held!.id);
        expect(got).toMatchObject({ state: "scheduled", attempts: 0, payload: '{"step":2}' });
      });

      it("complete adds follow-up jobs in the same step", async () => {
        const queue = newQueue();
        await store.add([job(queue)]);
        const [held] = (await claimAll(queue)).jobs;
        await store.complete(queue, held!.id, held!.leaseToken!, {
          result: '"done"',
          enqueue: [job(queue, { key: "outcome:1", payload: '"outcome"' })],
        });
        const follow = await store.getByKey(queue, "outcome:1");
        expect(follow).toMatchObject({ state: "scheduled", payload: '"outcome"' });
        expect((await store.counts(queue)).completed).toBe(1);
      });

      it("settle completes a scheduled or active job from outside, exactly once", async () => {
        const queue = newQueue();
        await store.add([job(queue, { key: "s", when: { delayMs: 60_000 } }), job(queue, { key: "a" })]);
        const [active] = (await claimAll(queue)).jobs;
        const settled = await store.settle(
          queue,
          { key: "s" },
          { result: '"paid"', enqueue: [job(queue, { key: "o" })] },
        );
        expect(settled).toMatchObject({ changed: true, job: { state: "completed", result: '"paid"' } });
        expect((await store.getByKey(queue, "o"))!.state).toBe("scheduled");
        const again = await store.settle(
          queue,
          { key: "s" },
          { result: '"again"', enqueue: [job(queue, { key: "o2" })] },
        );
        expect(again.changed).toBe(false);
        expect(again.job!.result).toBe('"paid"');
        expect(await store.getByKey(queue, "o2")).toBeNull();
        // Settling an active job voids the holder's lease.
        expect((await store.settle(queue, { id: active!.id }, { result: null })).changed).toBe(true);
        await expect(store.complete(queue, active!.id, active!.leaseToken!, { result: null })).rejects.toBeInstanceOf(
          LeaseLostError,
        );
        expect(await store.settle(queue, { key: "never" }, { result: null })).toEqual({ job: null, changed: false });
      });
    });

    describe("listing and counting", () => {
      it("lists one state a page at a time, oldest first", async () => {
        const queue = newQueue();
        await store.add(Array.from({ length: 7 }, (_, i) => job(queue, { payload: String(i) })));
        await store.add([job(queue, { when: { delayMs: 60_000 }, payload: '"x"' })]);
        await store.claimDue(queue, { limit: 7, leaseMs: 30_000 });
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const page = await store.list(queue, "active", { limit: 3, cursor });
          seen.push(...page.jobs.map((j) => j.payload));
          cursor = page.next;
          pages += 1;
        } while (cursor && pages < 10);
        expect(seen).toEqual(["0", "1", "2", "3", "4", "5", "6"]);
        expect(pages).toBe(3);
        expect((await store.list(queue, "scheduled", { limit: 10 })).jobs.map((j) => j.payload)).toEqual(['"x"']);
        expect(await store.counts(queue)).toEqual({ scheduled: 1, active: 7, completed: 0, dead: 0, cancelled: 0 });
      });
    });

    describe("dead letters", () => {
      async function makeDead(queue: string, count: number, key?: string) {
        await store.add(Array.from({ length: count }, () => job(queue, { key: key ?? null, maxAttempts: 1 })));
        const { jobs } = await claimAll(queue);
        for (const j of jobs) await store.fail(queue, j.id, j.leaseToken!, { error: "boom", retryDelayMs: null });
        return jobs.map((j) => j.id);
      }

      it("redrives dead jobs with attempts reset and history kept", async () => {
        const queue = newQueue();
        const ids = await makeDead(queue, 3);
        expect(await store.redrive(queue, { ids: [ids[0]!] }, { delayMs: 0 })).toBe(1);
        const [back] = (await claimAll(queue)).jobs;
        expect(back).toMatchObject({ id: ids[0], attempts: 1, state: "active" });
        expect(back!.errors).toMatchObject([{ attempt: 1, message: "boom" }]);
        const now = await store.now();
        expect(await store.redrive(queue, { all: true }, { runAt: now + 60_000 })).toBe(2);
        expect((await store.get(queue, ids[1]!))!.runAt).toBe(now + 60_000);
        expect((await store.counts(queue)).dead).toBe(0);
        expect(await store.redrive(queue, { ids: ["nope"] }, { delayMs: 0 })).toBe(0);
      });

      it("leaves a dead job dead when its key is held by another unfinished job", async () => {
        const queue = newQueue();
        const [deadId] = await makeDead(queue, 1, "k");
        await store.add([job(queue, { key: "k", when: { delayMs: 60_000 } })]);
        expect(await store.redrive(queue, { all: true }, { delayMs: 0 })).toBe(0);
        expect((await store.get(queue, deadId!))!.state).toBe("dead");
      });

      it("purges dead jobs by id or all", async () => {
        const queue = newQueue();
        const ids = await makeDead(queue, 3);
        expect(await store.purge(queue, "dead", { ids: [ids[0]!] })).toBe(1);
        expect(await store.get(queue, ids[0]!)).toBeNull();
        expect(await store.purge(queue, "dead", { all: true })).toBe(2);
        expect((await store.counts(queue)).dead).toBe(0);
      });
    });

    describe("retention", () => {
      it("trims completed jobs beyond keepLast, newest kept", async () => {
        const queue = newQueue();
        await store.add(Array.from({ length: 5 }, (_, i) => job(queue, { payload: String(i) })));
        const { jobs } = await claimAll(queue);
        for (const j of jobs) {
          await store.complete(queue, j.id, j.leaseToken!, { result: null });
          await sleep(2);
        }
        expect(await store.trim(queue, { keepLast: 2 })).toBe(3);
        const left = await store.list(queue, "completed", { limit: 10 });
        expect(left.jobs.map((j) => j.payload)).toEqual(["3", "4"]);
      });

      it("trims completed jobs older than maxAge, and never touches unfinished or dead ones", async () => {
        const queue = newQueue();
        await store.add([job(queue), job(queue, { maxAttempts: 1 }), job(queue, { when: { delayMs: 60_000 } })]);
        const [a, b] = (await claimAll(queue)).jobs;
        await store.complete(queue, a!.id, a!.leaseToken!, { result: null });
        await store.fail(queue, b!.id, b!.leaseToken!, { error: "x", retryDelayMs: null });
        await sleep(50);
        expect(await store.trim(queue, { maxAgeMs: 10 })).toBe(1);
        expect(await store.counts(queue)).toMatchObject({ completed: 0, dead: 1, scheduled: 1 });
      });
    });

    describe("wake-up", () => {
      it("tells subscribers when a job becomes due", async () => {
        const queue = newQueue();
        const seen: number[] = [];
        const unsubscribe = store.subscribe(queue, (runAt) => seen.push(runAt));
        try {
          await sleep(50); // let a networked store's subscription settle
          const [added] = await store.add([job(queue, { when: { delayMs: 100 } })]);
          await waitFor(() => seen.length > 0, 2_000);
          expect(seen).toContain(added!.job.runAt);
        } finally {
          unsubscribe();
        }
      });
    });

    describe("after close", () => {
      it("rejects every call with STORE_CLOSED", async () => {
        const queue = newQueue();
        const [added] = await store.add([job(queue)]);
        const other = opened.sibling();
        // In use before closing, so each store has its connection (or file) open.
        await other.counts(queue);
        await other.close();
        await other.close(); // closing twice is harmless
        const id = added!.job.id;
        const calls: [string, () => Promise<unknown>][] = [
          ["now", () => other.now()],
          ["add", () => other.add([job(queue)])],
          ["get", () => other.get(queue, id)],
          ["getByKey", () => other.getByKey(queue, "k")],
          ["cancel", () => other.cancel(queue, { id })],
          ["reschedule", () => other.reschedule(queue, { id }, { delayMs: 0 })],
          ["claimDue", () => other.claimDue(queue, { limit: 1, leaseMs: 1000 })],
          ["extendLease", () => other.extendLease(queue, id, "token", 1000)],
          ["complete", () => other.complete(queue, id, "token", { result: null })],
          ["settle", () => other.settle(queue, { id }, { result: null })],
          ["fail", () => other.fail(queue, id, "token", { error: "x", retryDelayMs: null })],
          ["release", () => other.release(queue, id, "token", { delayMs: 0 })],
          ["list", () => other.list(queue, "scheduled", { limit: 10 })],
          ["counts", () => other.counts(queue)],
          ["queues", () => other.queues()],
          ["redrive", () => other.redrive(queue, { all: true }, { delayMs: 0 })],
          ["purge", () => other.purge(queue, "dead", { all: true })],
          ["trim", () => other.trim(queue, { keepLast: 0 })],
        ];
        for (const [name, call] of calls) {
          const error = await call().then(
            () => new Error(`${name} succeeded on a closed store`),
            (e: unknown) => e,
          );
          expect(error, name).toBeInstanceOf(CheckbackError);
          expect((error as CheckbackError).code, `${name}: ${(error as Error).message}`).toBe("STORE_CLOSED");
        }
        // The suite's own instance is untouched.
        expect((await store.get(queue, id))?.state).toBe("scheduled");
      });
    });

    describe("one contract on every store", () => {
      it("refuses follow-up jobs for another queue with INVALID_OPTION, changing nothing", async () => {
        const queue = newQueue();
        await store.add([job(queue), job(queue, { key: "settle-me", when: { delayMs: 60_000 } })]);
        const [held] = (await claimAll(queue)).jobs;
        const elsewhere = newQueue();
        await expect(
          store.complete(queue, held!.id, held!.leaseToken!, { result: null, enqueue: [job(elsewhere)] }),
        ).rejects.toMatchObject({ code: "INVALID_OPTION" });
        await expect(
          store.settle(queue, { key: "settle-me" }, { result: null, enqueue: [job(queue), job(elsewhere)] }),
        ).rejects.toMatchObject({ code: "INVALID_OPTION" });
        expect((await store.get(queue, held!.id))?.state).toBe("active");
        expect((await store.getByKey(queue, "settle-me"))?.state).toBe("scheduled");
        expect(await store.counts(elsewhere)).toEqual({ scheduled: 0, active: 0, completed: 0, dead: 0, cancelled: 0 });
        expect((await store.counts(queue)).scheduled).toBe(1);
        // The job can still be completed as it should be.
        await store.complete(queue, held!.id, held!.leaseToken!, { result: null, enqueue: [job(queue)] });
      });

      it("refuses a list cursor that is not one of its own with INVALID_OPTION", async () => {
        const queue = newQueue();
        await store.add(Array.from({ length: 3 }, () => job(queue)));
        const first = await store.list(queue, "scheduled", { limit: 1 });
        expect(first.next).not.toBeNull();
        const refused = async (cursor: string, q = queue, state: "scheduled" | "dead" = "scheduled") =>
          expect(store.list(q, state, { limit: 1, cursor })).rejects.toMatchObject({ code: "INVALID_OPTION" });
        // garbled, another store's shape, another queue's or state's cursor
        await refused("garbage!");
        await refused("5");
        await refused(Buffer.from(JSON.stringify(["a", "b"])).toString("base64url"));
        await refused(first.next!, newQueue());
        await refused(first.next!, queue, "dead");
        // its own still works
        const second = await store.list(queue, "scheduled", { limit: 1, cursor: first.next });
        expect(second.jobs).toHaveLength(1);
        expect(second.jobs[0]!.id).not.toBe(first.jobs[0]!.id);
      });

      it("adds a batch spanning queues and keys all together", async () => {
        const [a, b] = [newQueue(), newQueue()];
        const added = await store.add([
          ...Array.from({ length: 12 }, (_, i) => job(a, { key: `k${i}` })),
          ...Array.from({ length: 12 }, (_, i) => job(b, { key: `k${i}` })),
        ]);
        expect(added.map((x) => x.outcome)).toEqual(Array(24).fill("created"));
        expect(added.map((x) => x.job.queue)).toEqual([...Array(12).fill(a), ...Array(12).fill(b)]);
        expect((await store.counts(a)).scheduled).toBe(12);
        expect((await store.counts(b)).scheduled).toBe(12);
      });
    });

    describeLibrary(() => store, newQueue);
    describeUntrustedInput(() => store, newQueue);
    describeFlow(() => store, newQueue);
    describeGroups(() => store, newQueue);
  });
}

/** The library on top of the store: retries, dead letters, precision, shutdown. */
function describeLibrary(getStore: () => Store, newQueue: () => string): void {
  describe("library on this store", () => {
    let cb: Checkback;
    beforeAll(() => {
      // The store is owned by the suite; this instance must not close it.
      cb = new Checkback({ store: getStore() });
    });

    it("counts a job named twice in one selection once (redrive and purge)", async () => {
      const store = getStore();
      const deadJob = async (name: string) => {
        const [added] = await store.add([
          {
            queue: name,
            key: null,
            payload: "{}",
            when: { delayMs: 0 },
            maxAttempts: 1,
            backoff: DEFAULT_BACKOFF,
            onDuplicate: "keep",
          },
        ]);
        const { jobs } = await store.claimDue(name, { limit: 1, leaseMs: 30_000 });
        await store.fail(name, jobs[0]!.id, jobs[0]!.leaseToken!, { error: "x", retryDelayMs: null });
        return added!.job.id;
      };
      const redriven = cb.queue(newQueue());
      const first = await deadJob(redriven.name);
      expect(await redriven.redrive([first, first, first])).toBe(1);
      expect((await redriven.get(first))?.state).toBe("scheduled");
      const purged = cb.queue(newQueue());
      const second = await deadJob(purged.name);
      expect(await purged.purge([second, second])).toBe(1);
      expect(await purged.get(second)).toBeNull();
    });

    it("retries with fixed back-off until it succeeds", async () => {
      const name = newQueue();
      const starts: number[] = [];
      const worker = cb.worker(name, async () => {
        starts.push(Date.now());
        if (starts.length < 3) throw new Error(`try ${starts.length}`);
        return "ok";
      });
      try {
        const job = await cb.queue(name).add({}, { attempts: 5, backoff: "80ms" });
        const done = await waitForJob(cb, name, job.id, "completed");
        expect(done.attempts).toBe(3);
        expect(done.result).toBe("ok");
        expect(done.errors.map((e) => e.message)).toEqual(["try 1", "try 2"]);
        expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(75);
        expect(starts[2]! - starts[1]!).toBeGreaterThanOrEqual(75);
      } finally {
        await worker.close();
      }
    });

    it("retries with exponential back-off, then goes dead; redrive runs it again", async () => {
      const name = newQueue();
      let fail = true;
      const starts: number[] = [];
      const dead: string[] = [];
      const worker = cb.worker(name, async () => {
        starts.push(Date.now());
        if (fail) throw new Error("nope");
      });
      worker.on("dead", (job) => dead.push(job.id));
      try {
        const queue = cb.queue(name);
        const job = await queue.add({}, { attempts: 3, backoff: { type: "exponential", delay: "50ms", factor: 3 } });
        const gone = await waitForJob(cb, name, job.id, "dead");
        expect(gone.attempts).toBe(3);
        expect(gone.errors).toHaveLength(3);
        // The event follows the store's answer, so the job may read dead a moment before it.
        await waitFor(() => dead.length > 0, 5_000);
        expect(dead).toEqual([job.id]);
        expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(45);
        expect(starts[2]! - starts[1]!).toBeGreaterThanOrEqual(145);
        expect((await queue.list("dead")).jobs.map((j) => j.id)).toEqual([job.id]);
        fail = false;
        expect(await queue.redrive([job.id])).toBe(1);
        const back = await waitForJob(cb, name, job.id, "completed");
        expect(back.attempts).toBe(1);
        expect(back.errors).toHaveLength(3);
      } finally {
        await worker.close();
      }
    });

    it("retries with a list of intervals, the last one repeating", async () => {
      const name = newQueue();
      const starts: number[] = [];
      const worker = cb.worker(name, async () => {
        starts.push(Date.now());
        if (starts.length < 4) throw new Error("again");
      });
      try {
        const job = await cb.queue(name).add({}, { attempts: 4, backoff: ["30ms", "120ms"] });
        await waitForJob(cb, name, job.id, "completed");
        const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
        expect(gaps[0]).toBeGreaterThanOrEqual(25);
        expect(gaps[1]).toBeGreaterThanOrEqual(115);
        expect(gaps[2]).toBeGreaterThanOrEqual(115);
      } finally {
        await worker.close();
      }
    });

    it("runs a job again later without spending an attempt when the handler asks", async () => {
      const name = newQueue();
      let runs = 0;
      const worker = cb.worker(name, async () => {
        runs += 1;
        return runs < 3 ? later("20ms") : "finally";
      });
      try {
        const job = await cb.queue(name).add({}, { attempts: 1 });
        const done = await waitForJob(cb, name, job.id, "completed");
        expect(runs).toBe(3);
        expect(done).toMatchObject({ attempts: 1, errors: [], result: "finally" });
      } finally {
        await worker.close();
      }
    });

    it("never starts a job before it is due, and wakes early for an earlier job", async () => {
      const name = newQueue();
      const lateness: number[] = [];
      const worker = cb.worker(name, async (job) => {
        lateness.push(job.startedAt - job.runAt);
      });
      try {
        await sleep(100); // the worker is now asleep with nothing due
        const queue = cb.queue(name);
        const far = await queue.add({}, { delay: "1h" });
        const near = await queue.add({}, { delay: 150 });
        await waitForJob(cb, name, near.id, "completed");
        expect(lateness).toHaveLength(1);
        expect(lateness[0]).toBeGreaterThanOrEqual(0);
        // Woken for the near job long before the idle re-check would have found it.
        expect(lateness[0]).toBeLessThan(2_000);
        expect((await queue.get(far.id))!.state).toBe("scheduled");
      } finally {
        await worker.close();
      }
    });

    it("never runs more handlers at once than its concurrency", async () => {
      const name = newQueue();
      let running = 0;
      let peak = 0;
      const worker = cb.worker(
        name,
        async () => {
          running += 1;
          peak = Math.max(peak, running);
          await sleep(10);
          running -= 1;
        },
        { concurrency: 4 },
      );
      try {
        const added = await cb.queue(name).addBulk(Array.from({ length: 40 }, () => ({ payload: {} })));
        await waitFor(async () => (await cb.queue(name).counts()).completed === 40, 10_000);
        expect(peak).toBeLessThanOrEqual(4);
        expect(peak).toBeGreaterThan(1);
        expect(added).toHaveLength(40);
      } finally {
        await worker.close();
      }
    });

    it("extends the lease while a long handler runs, so it is not redelivered", async () => {
      const name = newQueue();
      let runs = 0;
      const worker = cb.worker(
        name,
        async () => {
          runs += 1;
          await sleep(700);
        },
        { lease: "200ms", concurrency: 2 },
      );
      try {
        const job = await cb.queue(name).add({});
        const done = await waitForJob(cb, name, job.id, "completed");
        expect(runs).toBe(1);
        expect(done.attempts).toBe(1);
      } finally {
        await worker.close();
      }
    });

    it("shuts down gracefully: a handler past the timeout is released, attempt not spent", async () => {
      const name = newQueue();
      let aborted = false;
      const worker = cb.worker(name, async (job) => {
        await new Promise<void>((resolve) => {
          job.signal.addEventListener("abort", () => {
            aborted = true;
            resolve();
          });
        });
        throw new Error("interrupted");
      });
      const job = await cb.queue(name).add({});
      await waitFor(async () => (await cb.queue(name).get(job.id))?.state === "active", 5_000);
      await worker.close({ timeout: 100 });
      expect(aborted).toBe(true);
      const after = await cb.queue(name).get(job.id);
      expect(after).toMatchObject({ state: "scheduled", attempts: 0, errors: [] });
    });

    it("cancelled jobs never run", async () => {
      const name = newQueue();
      const ran: string[] = [];
      const queue = cb.queue<string>(name);
      const keep = await queue.add("keep", { delay: 100 });
      const drop = await queue.add("drop", { delay: 100, key: "drop" });
      expect(await queue.cancel({ key: "drop" })).toBe(true);
      const worker = cb.worker<string>(name, async (job) => {
        ran.push(job.payload);
      });
      try {
        await waitForJob(cb, name, keep.id, "completed");
        await sleep(50);
        expect(ran).toEqual(["keep"]);
        expect((await queue.get(drop.id))!.state).toBe("cancelled");
      } finally {
        await worker.close();
      }
    });

    it("bulk add is all-or-nothing when one item is invalid", async () => {
      const name = newQueue();
      const queue = cb.queue(name);
      await expect(
        queue.addBulk([{ payload: { ok: 1 } }, { payload: { ok: 2 }, options: { delay: "soon" } }]),
      ).rejects.toMatchObject({ code: "INVALID_DURATION" });
      expect(await queue.counts()).toEqual({ scheduled: 0, active: 0, completed: 0, dead: 0, cancelled: 0 });
    });
  });
}

/**
 * Text and numbers from outside reach every store the same way: identifiers that a store could
 * not keep exactly (NUL, unpaired surrogates) and instants no store can hold are refused before
 * the store is touched; free text (payloads, results, error messages) is kept exactly.
 */
function describeUntrustedInput(getStore: () => Store, newQueue: () => string): void {
  describe("untrusted input on this store", () => {
    let cb: Checkback;
    beforeAll(() => {
      cb = new Checkback({ store: getStore() });
    });
    const empty = { scheduled: 0, active: 0, completed: 0, dead: 0, cancelled: 0 };
    const awkward = {
      nul: "a\u0000b",
      lone: "x\ud800y",
      trail: "\udc00",
      pair: "🔑",
      ctl: "\u0001\t\n",
      bs: "\\u0000",
    };
    const unsafeIds = ["nul\u0000key", "lone\ud800", "\udfff"];

    it("refuses keys and ids with NUL or unpaired surrogates, and changes nothing", async () => {
      const name = newQueue();
      const queue = cb.queue(name);
      await queue.add({ keep: true }, { key: "kept" });
      const before = await queue.counts();
      for (const key of unsafeIds) {
        await expect(queue.add({}, { key })).rejects.toMatchObject({
          code: "INVALID_OPTION",
          details: { field: "key" },
        });
        await expect(queue.addBulk([{ payload: 1 }, { payload: 2, options: { key } }])).rejects.toMatchObject({
          code: "INVALID_OPTION",
        });
        await expect(queue.get({ key })).rejects.toMatchObject({ code: "INVALID_OPTION" });
        await expect(queue.get(key)).rejects.toMatchObject({ code: "INVALID_OPTION", details: { field: "id" } });
        await expect(queue.cancel({ key })).rejects.toMatchObject({ code: "INVALID_OPTION" });
        await expect(queue.reschedule({ key }, { delay: 0 })).rejects.toMatchObject({ code: "INVALID_OPTION" });
        await expect(queue.redrive([key])).rejects.toMatchObject({ code: "INVALID_OPTION" });
        await expect(queue.purge([key])).rejects.toMatchObject({ code: "INVALID_OPTION" });
      }
      expect(await queue.counts()).toEqual(before);
      expect(before).toEqual({ ...empty, scheduled: 1 });
    });

    it("refuses check keys with NUL or unpaired surrogates, and starts nothing", async () => {
      const check = cb.check(`c-${newQueue()}`, { schedule: ["1m"], probe: (probe) => probe.done(1), worker: false });
      for (const key of unsafeIds) {
        await expect(check.start(key, {})).rejects.toMatchObject({ code: "INVALID_OPTION", details: { field: "key" } });
        await expect(check.status(key)).rejects.toMatchObject({ code: "INVALID_OPTION" });
      }
      expect(await getStore().counts(check.queueName)).toEqual(empty);
    });

    it("keeps keys of any well-formed text exactly", async () => {
      const name = newQueue();
      const queue = cb.queue(name);
      const key = "ключ 🔑 /../%00 \u0001\\u0000 ü".padEnd(512, "é");
      const added = await queue.add({ n: 1 }, { key });
      expect(added.key).toBe(key);
      expect((await queue.get({ key }))?.id).toBe(added.id);
      expect((await queue.add({ n: 2 }, { key })).outcome).toBe("existing");
      expect(await queue.cancel({ key })).toBe(true);
    });

    it("round-trips payloads, released payloads and results carrying NUL and unpaired surrogates", async () => {
      const store = getStore();
      const name = newQueue();
      const text = JSON.stringify(awkward);
      const [added] = await store.add([
        {
          queue: name,
          key: null,
          payload: text,
          when: { delayMs: 0 },
          maxAttempts: 3,
          backoff: DEFAULT_BACKOFF,
          onDuplicate: "keep",
        },
      ]);
      expect(JSON.parse((await store.get(name, added!.job.id))!.payload)).toEqual(awkward);
      const [held] = (await store.claimDue(name, { limit: 10, leaseMs: 30_000 })).jobs;
      expect(JSON.parse(held!.payload)).toEqual(awkward);
      await store.release(name, held!.id, held!.leaseToken!, { delayMs: 0, payload: JSON.stringify([awkward]) });
      const [again] = (await store.claimDue(name, { limit: 10, leaseMs: 30_000 })).jobs;
      expect(JSON.parse(again!.payload)).toEqual([awkward]);
      await store.complete(name, again!.id, again!.leaseToken!, { result: JSON.stringify({ r: awkward }) });
      const done = await cb.queue(name).get(again!.id);
      expect(done).toMatchObject({ state: "completed", payload: [awkward], result: { r: awkward } });
    });

    it("records an error message with NUL exactly, whether the job retries or goes dead", async () => {
      const store = getStore();
      const name = newQueue();
      const messages = ["gateway\u0000down", "\u0000", "multi\nline \u0001 🔑 \\u0000 ü"];
      await store.add([
        {
          queue: name,
          key: null,
          payload: "{}",
          when: { delayMs: 0 },
          maxAttempts: 3,
          backoff: DEFAULT_BACKOFF,
          onDuplicate: "keep",
        },
      ]);
      for (const [index, message] of messages.entries()) {
        const [held] = (await store.claimDue(name, { limit: 10, leaseMs: 30_000 })).jobs;
        const last = index === messages.length - 1;
        const after = await store.fail(name, held!.id, held!.leaseToken!, {
          error: message,
          retryDelayMs: last ? null : 0,
        });
        expect(after.state).toBe(last ? "dead" : "scheduled");
        expect(after.errors.map((e) => e.message)).toEqual(messages.slice(0, index + 1));
      }
      const [dead] = (await store.list(name, "dead", { limit: 10 })).jobs;
      expect(dead!.errors.map((e) => e.message)).toEqual(messages);
    });

    it("a handler's error with NUL or unpaired surrogates is recorded, and the job goes dead with it", async () => {
      const name = newQueue();
      const worker = cb.worker(name, async (job) => {
        throw new Error(job.attempts === 1 ? "first\u0000try" : "second\ud800try");
      });
      try {
        const added = await cb.queue(name).add({}, { attempts: 2, backoff: 10 });
        const dead = await waitForJob(cb, name, added.id, "dead");
        // An unpaired surrogate is no text any store can keep: it is recorded as U+FFFD, everywhere.
        expect(dead.errors.map((e) => e.message)).toEqual(["first\u0000try", "second\ufffdtry"]);
      } finally {
        await worker.close();
      }
    });

    it("refuses a runAt no store can hold, and keeps the furthest one it accepts exactly", async () => {
      const name = newQueue();
      const queue = cb.queue(name);
      for (const runAt of [1e20, 8.64e15, Number.MAX_SAFE_INTEGER, Date.now() + 101 * 365 * 86_400_000]) {
        await expect(queue.add({}, { runAt })).rejects.toMatchObject({
          code: "INVALID_OPTION",
          details: { field: "runAt" },
        });
      }
      expect(await queue.counts()).toEqual(empty);
      const far = Date.now() + 99 * 365 * 86_400_000;
      const added = await queue.add({}, { runAt: far });
      expect((await queue.get(added.id))!.runAt).toBe(far);
      await expect(queue.reschedule(added.id, { runAt: 1e20 })).rejects.toMatchObject({ code: "INVALID_OPTION" });
      await expect(queue.redrive("all", { runAt: 1e20 })).rejects.toMatchObject({ code: "INVALID_OPTION" });
      expect((await queue.get(added.id))!.runAt).toBe(far);
    });
  });
}

async function waitForJob(cb: Checkback, queue: string, id: string, state: string) {
  let last: Awaited<ReturnType<ReturnType<Checkback["queue"]>["get"]>> = null;
  await waitFor(async () => {
    last = await cb.queue(queue).get(id);
    return last?.state === state;
  }, 10_000);
  return last!;
}
