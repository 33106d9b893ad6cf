import { type Store, StoreUnavailableError } from "checkback";
import { describe, expect, it } from "vitest";
import { guardStore } from "../../packages/server/src/http/store/guard.js";

const DEADLINE_MS = 200;

/** A store whose get() never answers, get of id "late" answers after 2 deadlines, and counts() at once. */
function slowStore(): Store {
  return {
    kind: "test",
    get: (_queue: string, id: string) =>
      id === "late"
        ? new Promise((resolve) => setTimeout(() => resolve({ id }), 2 * DEADLINE_MS))
        : new Promise(() => {}),
    counts: async () => ({ scheduled: 1 }),
  } as unknown as Store;
}

/** When (ms after the call) and how a call ended. */
function outcome(call: Promise<unknown>): Promise<{ afterMs: number; value?: unknown; error?: unknown }> {
  const started = performance.now();
  return call.then(
    (value) => ({ afterMs: performance.now() - started, value }),
    (error: unknown) => ({ afterMs: performance.now() - started, error }),
  );
}

describe("the server's store guard (one timer for every call's deadline)", () => {
  it("answers each hanging call unavailable at its own deadline, and lets calls in time through", async () => {
    const { store } = guardStore(slowStore(), DEADLINE_MS);
    const first = outcome(store.get("q", "1"));
    await new Promise((resolve) => setTimeout(resolve, DEADLINE_MS / 2));
    // Started half a deadline later: the timer armed for the first call must not end it early.
    const second = outcome(store.get("q", "2"));
    expect(await store.counts("q")).toEqual({ scheduled: 1 });
    for (const ended of [await first, await second]) {
      expect(ended.error).toBeInstanceOf(StoreUnavailableError);
      expect(ended.afterMs).toBeGreaterThanOrEqual(DEADLINE_MS - 1);
    }
  });

  it("does not hand out an answer that came after the deadline", async () => {
    const { store } = guardStore(slowStore(), DEADLINE_MS);
    const late = await outcome(store.get("q", "late"));
    expect(late.error).toBeInstanceOf(StoreUnavailableError);
    expect(late.value).toBeUndefined();
    // The guard still serves calls after an expiry.
    expect(await store.counts("q")).toEqual({ scheduled: 1 });
  });
});
