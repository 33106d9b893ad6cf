import { afterEach, describe, expect, it } from "vitest";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { MemoryStore } from "../../packages/checkback/src/stores/memory/memory-store.js";
import type { ClaimOptions, ClaimResult } from "../../packages/checkback/src/stores/store.js";
import { waitFor } from "../support/wait.js";

/** A memory store that counts claims: a worker held back by a limit must sleep, not poll. */
class CountingStore extends MemoryStore {
  claims = 0;
  override async claimDue(queue: string, options: ClaimOptions): Promise<ClaimResult> {
    this.claims += 1;
    return super.claimDue(queue, options);
  }
}

describe("workers under a rate limit", () => {
  const open: Checkback[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((cb) => cb.close()));
  });

  it("start no faster than the limit, across workers, and sleep until the next start is allowed", async () => {
    const store = new CountingStore();
    const cb = new Checkback({ store });
    open.push(cb);
    const queue = cb.queue("limited");
    await queue.limit({ rate: 4, per: "1s" });
    await queue.addBulk(Array.from({ length: 8 }, (_, n) => ({ payload: { n } })));
    const started: number[] = [];
    const handler = () => {
      started.push(Date.now());
    };
    cb.worker("limited", handler, { concurrency: 10 });
    cb.worker("limited", handler, { concurrency: 10 });
    await waitFor(() => started.length === 8, 5_000);
    // A full bucket of 4 at once, then one every 250 ms: the last start is ~1 s after the first.
    const span = started[7]! - started[0]!;
    expect(span).toBeGreaterThanOrEqual(900);
    for (let i = 4; i < 8; i++) expect(started[i]! - started[0]!).toBeGreaterThanOrEqual((i - 4) * 250 + 200);
    // Sleeping until the next allowed start: a handful of claims per start, not a poll loop.
    expect(store.claims).toBeLessThan(40);
  });
});
