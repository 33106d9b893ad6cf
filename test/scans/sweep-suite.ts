import { afterEach, describe, expect, it } from "vitest";
import { ValidationError } from "../../packages/checkback/src/core/errors.js";
import { Sweep } from "../../packages/checkback/src/scans/sweep.js";
import { InvalidPageError } from "../../packages/checkback/src/scans/sweep-page.js";
import type { SweepDefinition, SweepPage, SweepRun } from "../../packages/checkback/src/scans/sweep-types.js";
import type { Store } from "../../packages/checkback/src/stores/store.js";
import { sleep, waitFor } from "../support/wait.js";

const until = (check: () => boolean | Promise<boolean>, timeoutMs = 20_000) => waitFor(check, timeoutMs);

/** A store, and `peer()`: another handle on the same data, as a second process would have. */
export interface SweepStoreHandle {
  store: Store;
  peer(): Store;
  close(): Promise<void>;
}

const SETTINGS = { maxPayloadBytes: 256 * 1024 };
const FAST = { pageBackoff: "10ms", backoff: "10ms" } as const;

/** The user's own table: ids 0…n−1, read `size` at a time with the next id as the cursor. */
export function table(n: number, size = 100) {
  const reads: (string | null)[] = [];
  const page = (cursor: string | null): SweepPage<number> => {
    reads.push(cursor);
    const from = cursor === null ? 0 : Number(cursor);
    const items = Array.from({ length: Math.max(0, Math.min(size, n - from)) }, (_, i) => from + i);
    return { items, next: from + size < n ? String(from + size) : null };
  };
  return { page, reads };
}

export function runSweepSuite(backend: string, open: () => Promise<SweepStoreHandle>): void {
  describe(`sweeps on ${backend}`, () => {
    let handle: SweepStoreHandle | undefined;
    const sweeps: Sweep<never>[] = [];
    let n = 0;
    const name = () => `s${Date.now().toString(36)}${n++}`;
    const sweep = <T>(store: Store, sweepName: string, definition: SweepDefinition<T>) => {
      const made = new Sweep<T>(sweepName, store, definition, SETTINGS);
      sweeps.push(made as unknown as Sweep<never>);
      return made;
    };
    const setup = async () => {
      handle = await open();
      return handle;
    };
    afterEach(async () => {
      await Promise.all(sweeps.splice(0).map((each) => each.close()));
      await handle?.close();
      handle = undefined;
    });
    const finished = <T>(s: Sweep<T>, state = "completed") =>
      until(async () => (await s.status()).state === state, 30_000);

    it("walks 10,000 records in pages of 100 and handles every item", async () => {
      const { store } = await setup();
      const records = table(10_000, 100);
      const seen = new Uint8Array(10_000);
      const progress: SweepRun[] = [];
      const s = sweep<number>(store, name(), {
        ...FAST,
        page: records.page,
        handle: (id) => {
          seen[id]! += 1;
        },
        concurrency: 20,
        total: 10_000,
      });
      s.on("progress", (run) => progress.push(run));
      const started = await s.start();
      expect(started).toMatchObject({ state: "running", created: true, items: 0, total: 10_000 });
      await finished(s);
      expect(seen.every((count) => count >= 1)).toBe(true);
      const { run, state } = await s.status();
      expect(state).toBe("completed");
      expect(run).toMatchObject({ id: started.id, pages: 100, items: 10_000, failed: 0, cursor: null });
      expect(run!.finishedAt).not.toBeNull();
      expect(progress.length).toBeGreaterThan(50);
      expect(progress.at(-1)!.items).toBeGreaterThan(9_000);
      expect(progress.some((p) => p.etaMs !== null && p.rate > 0)).toBe(true);
      // The history keeps the run; a second start is a new run.
      const again = await s.start();
      expect(again.created).toBe(true);
      expect(again.id).not.toBe(started.id);
      await finished(s);
      const runs = await s.runs();
      expect(runs.map((r) => r.id)).toEqual([again.id, started.id]);
      expect(runs.every((r) => r.state === "completed" && r.items === 10_000)).toBe(true);
    }, 60_000);

    it("start is idempotent while a run is going", async () => {
      const { store } = await setup();
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const s = sweep<number>(store, name(), {
        ...FAST,
        page: async () => {
          await gate;
          return { items: [1], next: null };
        },
        handle: () => {},
      });
      const [a, b] = await Promise.all([s.start(), s.start()]);
      expect(a.id).toBe(b.id);
      expect([a.created, b.created].sort()).toEqual([false, true]);
      release();
      await finished(s);
    });

    it("runs one run at a time across two runners", async () => {
      const { store, peer } = await setup();
      const sweepName = name();
      const records = table(2_000, 50);
      let inFlight = 0;
      let most = 0;
      const seen = new Uint16Array(2_000);
      const definition: SweepDefinition<number> = {
        ...FAST,
        page: async (cursor) => {
          inFlight += 1;
          most = Math.max(most, inFlight);
          await sleep(2);
          inFlight -= 1;
          return records.page(cursor);
        },
        handle: (id) => {
          seen[id]! += 1;
        },
      };
      const one = sweep(store, sweepName, definition);
      const two = sweep(peer(), sweepName, definition);
      const [a, b] = await Promise.all([one.start(), two.start()]);
      expect(a.id).toBe(b.id);
      await finished(one);
      expect(most).toBe(1);
      // Every page read once: nobody else ran the run beside its holder.
      expect(records.reads.length).toBe(40);
      expect(seen.every((count) => count === 1)).toBe(true);
      expect((await one.runs()).length).toBe(1);
    });

    it("cancels a run: no page is read after, and the next start begins afresh", async () => {
      const { store } = await setup();
      const records = table(1_000, 10);
      let pagesRead = 0;
      let cancelled = false;
      const s = sweep<number>(store, name(), {
        ...FAST,
        page: (cursor) => {
          pagesRead += 1;
          if (cancelled) throw new Error("a page was read after cancel");
          return records.page(cursor);
        },
        handle: () => sleep(1),
      });
      await s.start();
      await until(() => pagesRead >= 3);
      expect(await s.cancel()).toBe(true);
      cancelled = true;
      const readAtCancel = pagesRead;
      await finished(s, "cancelled");
      await sleep(200);
      expect(pagesRead).toBeLessThanOrEqual(readAtCancel + 1);
      expect(await s.cancel()).toBe(false);
      cancelled = false;
      const next = await s.start();
      expect(next).toMatchObject({ created: true, cursor: null, items: 0, resumedFrom: null });
      await finished(s);
      expect((await s.runs()).map((r) => r.state)).toEqual(["completed", "cancelled"]);
    });

    it("reads a throwing page again with back-off", async () => {
      const { store } = await setup();
      const records = table(300, 100);
      let throws = 2;
      const errors: Error[] = [];
      const s = sweep<number>(store, name(), {
        ...FAST,
        page: (cursor) => {
          if (cursor === "100" && throws-- > 0) throw new Error("database busy");
          return records.page(cursor);
        },
        handle: () => {},
      });
      s.on("pageFailed", (error) => errors.push(error));
      await s.start();
      await finished(s);
      expect(errors.map((e) => e.message)).toEqual(["database busy", "database busy"]);
      expect((await s.status()).run).toMatchObject({ items: 300, pages: 3, error: "database busy" });
    });

    it("fails a run whose page keeps throwing, keeping its cursor for the next start", async () => {
      const { store } = await setup();
      const records = table(500, 100);
      let broken = true;
      const s = sweep<number>(store, name(), {
        ...FAST,
        pageAttempts: 3,
        page: (cursor) => {
          if (cursor === "300" && broken) throw new Error("table locked");
          return records.page(cursor);
        },
        handle: () => {},
      });
      const failedEvents: SweepRun[] = [];
      s.on("failed", (run) => failedEvents.push(run));
      const first = await s.start();
      await finished(s, "failed");
      const { run } = await s.status();
      expect(run).toMatchObject({ id: first.id, state: "failed", cursor: "300", items: 300, error: "table locked" });
      await until(() => failedEvents.length === 1);
      broken = false;
      const second = await s.start();
      expect(second).toMatchObject({ created: true, cursor: "300", items: 300, resumedFrom: first.id });
      await finished(s);
      expect((await s.status()).run).toMatchObject({ items: 500, pages: 5 });
      expect(records.reads.filter((cursor) => cursor === null).length).toBe(1);
    });

    it("refuses a malformed page with a typed error naming the field, losing nothing", async () => {
      const { store } = await setup();
      const records = table(300, 100);
      let bad: unknown = { items: "oops", next: null };
      const errors: Error[] = [];
      const s = sweep<number>(store, name(), {
        ...FAST,
        page: (cursor) => (cursor === "100" && bad !== null ? (bad as SweepPage<number>) : records.page(cursor)),
        handle: () => {},
      });
      s.on("pageFailed", (error) => errors.push(error));
      await s.start();
      await until(() => errors.length >= 1);
      bad = { items: [], next: 7 };
      await until(() => errors.some((e) => (e as InvalidPageError).details?.field === "next"));
      bad = null;
      await finished(s);
      expect(errors[0]).toBeInstanceOf(InvalidPageError);
      expect(errors[0]).toMatchObject({ code: "INVALID_PAGE", details: { field: "items" } });
      expect((await s.status()).run).toMatchObject({ items: 300, pages: 3 });
      const { validatePage } = await import("../../packages/checkback/src/scans/sweep-page.js");
      expect(() => validatePage("x", null)).toThrow(/page must be an object/);
    });

    it("retries failed items from the item queue and dead-letters those that keep failing", async () => {
      const { store } = await setup();
      const records = table(50, 10);
      const tries = new Map<number, number[]>();
      const s = sweep<number>(store, name(), {
        ...FAST,
        attempts: 2,
        page: records.page,
        handle: (id, context) => {
          tries.set(id, [...(tries.get(id) ?? []), context.attempt]);
          if (id === 7) throw new Error("always broken");
          if (id === 8 && context.attempt === 1) throw new Error("broken once");
        },
      });
      await s.start();
      await finished(s);
      await until(async () => (await s.status()).dead === 1);
      const status = await s.status();
      expect(status).toMatchObject({ retrying: 0, dead: 1, run: { items: 50, failed: 2 } });
      expect(tries.get(7)).toEqual([1, 2, 3]);
      expect(tries.get(8)).toEqual([1, 2]);
      const [dead] = (await store.list(s.itemQueue, "dead", { limit: 10 })).jobs;
      expect(JSON.parse(dead!.payload)).toMatchObject({ item: 7 });
    });

    it("refuses bad definitions with typed errors", async () => {
      const { store } = await setup();
      const ok = { page: () => ({ items: [], next: null }), handle: () => {} };
      const bad = (definition: object, sweepName = "fine") =>
        expect(() => new Sweep(sweepName, store, definition as SweepDefinition<unknown>, SETTINGS)).toThrow(
          ValidationError,
        );
      bad({ ...ok, page: 1 });
      bad({ ...ok, handle: undefined });
      bad({ ...ok, concurrency: 0 });
      bad({ ...ok, attempts: 0 });
      bad({ ...ok, total: -1 });
      bad({ ...ok, lease: "soon" });
      bad({ ...ok, colour: "red" });
      bad(ok, "bad name");
      bad(ok, "x".repeat(200));
    });
  });
}
