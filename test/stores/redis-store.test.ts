import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { DEFAULT_BACKOFF } from "../../packages/checkback/src/core/backoff.js";
import { RedisStore } from "../../packages/checkback/src/stores/redis/redis-store.js";
import type { NewJob } from "../../packages/checkback/src/stores/store.js";
import { REDIS_URL, reachable } from "../support/redis-env.js";

/** What the Redis store does beyond the shared contract: its clock, its warnings, its layout. */
const available = await reachable(REDIS_URL, "Redis", "redis-server --port 6379");
const prefix = `cbtest-rs-${process.pid}`;

describe.skipIf(!available)("Redis store specifics", () => {
  let store: RedisStore;
  let raw: Redis;
  beforeAll(() => {
    store = new RedisStore({ url: REDIS_URL, prefix, checkDurability: false });
    raw = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    for await (const keys of raw.scanStream({ match: `${prefix}:*`, count: 1000 })) {
      if ((keys as string[]).length > 0) await raw.unlink(...(keys as string[]));
    }
    raw.disconnect();
    await store?.close();
  });

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

  async function serverNow(): Promise<number> {
    const [seconds, micros] = await raw.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }

  it("computes due times on the Redis server's clock, not the producer's", async () => {
    // A producer whose clock is a day fast: nothing the store writes may follow it.
    // biome-ignore lint/complexity/useDateNow: Date.now is what is being replaced here
    const skewed = vi.spyOn(Date, "now").mockImplementation(() => new Date().getTime() + 86_400_000);
    try {
      const before = await serverNow();
      const [added] = await store.add([job("clock", { when: { delayMs: 5_000 } })]);
      const after = await serverNow();
      expect(added!.job.runAt).toBeGreaterThanOrEqual(before + 5_000);
      expect(added!.job.runAt).toBeLessThanOrEqual(after + 5_000);
      expect(added!.job.createdAt).toBeLessThanOrEqual(after);
      const now = await store.now();
      expect(now).toBeGreaterThanOrEqual(before);
      expect(now).toBeLessThanOrEqual(await serverNow());
    } finally {
      skewed.mockRestore();
    }
  });

  it("warns at start-up when the server's settings can lose jobs", async () => {
    const config = await raw.config("GET", "appendonly");
    const warnings: string[] = [];
    const checked = new RedisStore({ url: REDIS_URL, prefix, onWarning: (m) => warnings.push(m) });
    try {
      const problems = await checked.durability;
      if (config[1] === "yes") {
        expect(problems.find((p) => p.setting === "appendonly")).toBeUndefined();
      } else {
        // The default test server runs without an AOF: exactly the case to warn about.
        expect(problems.find((p) => p.setting === "appendonly")).toMatchObject({ value: "no" });
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toContain("appendonly=no");
      }
    } finally {
      await checked.close();
    }
  });

  it("keeps due order and FIFO through bucket splits, including one instant shared by hundreds", async () => {
    const queue = "buckets";
    const base = (await serverNow()) - 10_000;
    // 600 distinct instants in shuffled order plus 300 jobs at one instant: many splits,
    // and one bucket that cannot be split by time.
    const instants = shuffle(Array.from({ length: 600 }, (_, i) => base + i * 7));
    const jobs = [
      ...instants.map((runAt) => job(queue, { when: { runAt }, payload: JSON.stringify([runAt, 0]) })),
      ...Array.from({ length: 300 }, (_, i) =>
        job(queue, { when: { runAt: base + 2_000 }, payload: JSON.stringify([base + 2_000, i + 1]) }),
      ),
    ];
    for (let i = 0; i < jobs.length; i += 50) await store.add(jobs.slice(i, i + 50));
    expect(await raw.zcard(`${prefix}:{${queue}:0}:t`)).toBeGreaterThan(5);

    // Listing walks the same buckets: every job once, in due order, a page at a time.
    const listed: [number, number][] = [];
    let cursor: string | null = null;
    do {
      const page = await store.list(queue, "scheduled", { limit: 100, cursor });
      listed.push(...page.jobs.map((j) => JSON.parse(j.payload) as [number, number]));
      cursor = page.next;
    } while (cursor);
    expect(listed).toHaveLength(900);
    expect(listed).toEqual([...listed].sort((a, b) => a[0] - b[0] || a[1] - b[1]));

    const claimed: [number, number][] = [];
    for (;;) {
      const { jobs: batch } = await store.claimDue(queue, { limit: 97, leaseMs: 60_000 });
      if (batch.length === 0) break;
      claimed.push(...batch.map((j) => JSON.parse(j.payload) as [number, number]));
    }
    expect(claimed).toHaveLength(900);
    const sorted = [...claimed].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    expect(claimed).toEqual(sorted);
  });

  it("spreads one bulk add over compact buckets, and claims it back in due order", async () => {
    const queue = "bulk-buckets";
    const base = (await serverNow()) - 60_000;
    // Two bulk adds of 3,000, with a run of 400 jobs at one instant in the middle of each.
    for (let round = 0; round < 2; round++) {
      const jobs = Array.from({ length: 3_000 }, (_, i) => {
        // Random instants are odd offsets from base, so none meets the shared (even) instant.
        const runAt = i % 7 === 0 && i < 2_800 ? base + 30_000 : base + 1 + 2 * Math.floor(Math.random() * 25_000);
        return job(queue, { when: { runAt }, payload: JSON.stringify([runAt, round * 3_000 + i]) });
      });
      await store.add(jobs);
    }
    // Every bucket but the one holding the 800 jobs of one instant stays within the listpack
    // limit (a bucket cannot be split inside one instant).
    const directory = `${prefix}:{${queue}:0}:t`;
    const starts = await raw.zrange(directory, "0", "-1");
    const oversized: string[] = [];
    for (const start of starts) {
      const bucket = `${prefix}:{${queue}:0}:d:${start}`;
      if ((await raw.object("ENCODING", bucket)) !== "listpack") oversized.push(bucket);
    }
    expect(oversized).toHaveLength(1);
    expect(await raw.zcount(oversized[0]!, base + 30_000, base + 30_000)).toBe(800);

    const claimed: number[] = [];
    for (;;) {
      const { jobs: batch } = await store.claimDue(queue, { limit: 500, leaseMs: 60_000 });
      if (batch.length === 0) break;
      claimed.push(...batch.map((j) => (JSON.parse(j.payload) as [number, number])[0]));
    }
    expect(claimed).toHaveLength(6_000);
    expect(claimed).toEqual([...claimed].sort((a, b) => a - b));
  });

  it("claims, completes and trims batches far larger than one Lua call can spread", async () => {
    const queue = "bulk";
    const count = 12_000;
    for (let i = 0; i < count; i += 2_000) await store.add(Array.from({ length: 2_000 }, () => job(queue)));
    const { jobs } = await store.claimDue(queue, { limit: count, leaseMs: 60_000 });
    expect(jobs).toHaveLength(count);
    await Promise.all(jobs.map((j) => store.complete(queue, j.id, j.leaseToken!, { result: null })));
    expect(await store.counts(queue)).toMatchObject({ active: 0, completed: count });
    // Trim works in bounded steps: 10,000 at most per call.
    expect(await store.trim(queue, { keepLast: 0 })).toBe(10_000);
    expect(await store.trim(queue, { keepLast: 0 })).toBe(2_000);
    expect(await store.counts(queue)).toMatchObject({ completed: 0 });
    expect(await raw.exists(`${prefix}:{${queue}:0}:r:1`)).toBe(0);
  });

  it("trims keyed, unkeyed and large records alike, freeing their keys", async () => {
    for (const keyed of [false, true]) {
      const queue = `trim-${keyed}`;
      const big = JSON.stringify("x".repeat(300));
      await store.add([job(queue, { key: keyed ? "a" : null, payload: big }), job(queue, { key: keyed ? "b" : null })]);
      const { jobs } = await store.claimDue(queue, { limit: 10, leaseMs: 60_000 });
      for (const j of jobs) await store.complete(queue, j.id, j.leaseToken!, { result: null });
      expect(await store.trim(queue, { keepLast: 0 })).toBe(2);
      for (const j of jobs) expect(await store.get(queue, j.id)).toBeNull();
      expect(await raw.hlen(`${prefix}:{${queue}:0}:R`)).toBe(0);
      expect(await raw.exists(`${prefix}:{${queue}:0}:r:0`)).toBe(0);
      expect(await raw.hlen(`${prefix}:{${queue}:0}:k`)).toBe(0);
    }
  });

  it("hands a new subscriber the queue's next due instant once its subscription is in place", async () => {
    // A job added between a worker's first claim and its SUBSCRIBE reaching the server
    // publishes into the void; reading the head after subscribing catches it.
    const [added] = await store.add([job("subscribed", { when: { delayMs: 60_000 } })]);
    const seen: number[] = [];
    const unsubscribe = store.subscribe("subscribed", (runAt) => seen.push(runAt));
    try {
      const deadline = Date.now() + 5_000;
      while (seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(seen).toEqual([added!.job.runAt]);
    } finally {
      unsubscribe();
    }
  });

  it("keeps records that outgrow the compact encoding, and shrinks them back", async () => {
    const queue = "big";
    const big = JSON.stringify({ text: "x".repeat(500) });
    const [added] = await store.add([job(queue, { payload: big })]);
    expect((await store.get(queue, added!.job.id))!.payload).toBe(big);
    const [held] = (await store.claimDue(queue, { limit: 1, leaseMs: 10_000 })).jobs;
    await store.release(queue, held!.id, held!.leaseToken!, { delayMs: 0, payload: '"small"' });
    expect(await raw.hlen(`${prefix}:{${queue}:0}:R`)).toBe(0);
    const [again] = (await store.claimDue(queue, { limit: 1, leaseMs: 10_000 })).jobs;
    expect(again!.payload).toBe('"small"');
    await store.release(queue, again!.id, again!.leaseToken!, { delayMs: 0, payload: big });
    expect((await store.get(queue, added!.job.id))!.payload).toBe(big);
    // The small-record bucket stays a listpack: one big payload does not bloat its neighbours.
    expect(await raw.object("ENCODING", `${prefix}:{${queue}:0}:r:0`).catch(() => null)).not.toBe("hashtable");
  });

  it("stores a pending job with a small payload compactly", async () => {
    const queue = "compact";
    const count = 2_000;
    for (let i = 0; i < count; i += 500) {
      await store.add(
        Array.from({ length: 500 }, (_, k) =>
          job(queue, { when: { delayMs: 3_600_000 + (i + k) * 50 }, payload: `{"order":${i + k}}` }),
        ),
      );
    }
    let bytes = 0;
    for await (const keys of raw.scanStream({ match: `${prefix}:{${queue}:0}:*`, count: 1000 })) {
      for (const key of keys as string[]) bytes += (await raw.memory("USAGE", key, "SAMPLES", "0")) ?? 0;
    }
    console.info(`redis store: ${(bytes / count).toFixed(1)} bytes per pending job (MEMORY USAGE)`);
    // A generous bound that still fails for one hash or one zset member per job (~100+ bytes).
    expect(bytes / count).toBeLessThan(100);
  });
});

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
