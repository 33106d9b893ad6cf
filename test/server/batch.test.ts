import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryStore } from "../../packages/checkback/src/stores/memory/memory-store.js";
import { RedisStore } from "../../packages/checkback/src/stores/redis/redis-store.js";
import { SqliteStore } from "../../packages/checkback/src/stores/sqlite/sqlite-store.js";
import type { Store } from "../../packages/checkback/src/stores/store.js";
import { REDIS_URL, reachable } from "../support/redis-env.js";
import { type Api, snapshot, startTestServer, type TestServer, uniqueQueue } from "./helpers.js";

/**
 * Batch settling over HTTP: complete, fail, extend and release many claimed jobs in one call.
 * Each item is answered on its own (200 even when some are refused), a refused item changes
 * nothing, and a request that is wrong as a whole (schema, size, lease) is 400 with nothing done.
 */

interface Claimed {
  id: string;
  leaseToken: string;
  leaseExpiresAt: number;
}

const dir = mkdtempSync(join(tmpdir(), "checkback-batch-"));
const redisPrefix = `cbbatch-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const redisUp = await reachable(REDIS_URL, "Redis", "redis-server --port 6379");

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (!redisUp) return;
  const cleanup = new RedisStore({ url: REDIS_URL, prefix: redisPrefix, checkDurability: false });
  const client = cleanup.client as import("ioredis").Redis;
  const keys: string[] = [];
  for await (const batch of client.scanStream({ match: `${redisPrefix}:*`, count: 1000 })) keys.push(...batch);
  if (keys.length > 0) await client.unlink(...keys);
  await cleanup.close();
});

const stores: [string, () => Store][] = [
  ["memory", () => new MemoryStore()],
  ["SQLite", () => new SqliteStore({ path: join(dir, "batch.db") })],
];
if (redisUp) {
  stores.push(["Redis", () => new RedisStore({ url: REDIS_URL, prefix: redisPrefix, checkDurability: false })]);
}

describe.each(stores)("batch settling on the %s store", (_kind, makeStore) => {
  let server: TestServer;
  let api: Api;
  let store: Store;

  beforeAll(async () => {
    store = makeStore();
    server = await startTestServer({}, store);
    api = server.api;
  });
  afterAll(() => server.close());

  async function addAndClaim(queue: string, count: number, options: Record<string, unknown> = {}): Promise<Claimed[]> {
    const jobs = Array.from({ length: count }, (_, n) => ({ payload: { n }, ...options }));
    expect((await api.post(`/v1/queues/${queue}/jobs/bulk`, { jobs })).status).toBe(201);
    const claimed = await api.post(`/v1/queues/${queue}/claim`, { limit: count, lease: "1m" });
    expect(claimed.status).toBe(200);
    expect(claimed.body.jobs).toHaveLength(count);
    return claimed.body.jobs;
  }

  it("claims up to `limit` jobs in one long-poll", async () => {
    const queue = uniqueQueue();
    const waiting = api.post(`/v1/queues/${queue}/claim`, { limit: 10, wait: "5s", lease: "1m" });
    const added = await api.post(`/v1/queues/${queue}/jobs/bulk`, {
      jobs: [1, 2, 3].map((n) => ({ payload: n, delay: "150ms" })),
    });
    expect(added.status).toBe(201);
    const { body } = await waiting;
    expect(body.jobs.map((job: { payload: number }) => job.payload)).toEqual([1, 2, 3]);
  });

  it("completes many: each item answered on its own, refused items left as they were", async () => {
    const queue = uniqueQueue();
    const [a, b, c] = await addAndClaim(queue, 3);
    const beforeB = await store.get(queue, b!.id);
    const answer = await api.post(`/v1/queues/${queue}/jobs/complete`, {
      jobs: [
        { id: a!.id, leaseToken: a!.leaseToken, result: { ok: "a" } },
        { id: b!.id, leaseToken: "stale-token" },
        { id: c!.id, leaseToken: c!.leaseToken },
        { id: "no-such-job", leaseToken: a!.leaseToken },
        // The same job twice: the second finds it completed already.
        { id: a!.id, leaseToken: a!.leaseToken },
      ],
    });
    expect(answer.status).toBe(200);
    expect(answer.body.results).toEqual([
      { id: a!.id, ok: true },
      { id: b!.id, error: expect.objectContaining({ code: "LEASE_LOST", message: expect.any(String) }) },
      { id: c!.id, ok: true },
      { id: "no-such-job", error: expect.objectContaining({ code: "LEASE_LOST" }) },
      { id: a!.id, error: expect.objectContaining({ code: "LEASE_LOST" }) },
    ]);
    expect(await store.get(queue, a!.id)).toMatchObject({ state: "completed", result: JSON.stringify({ ok: "a" }) });
    expect(await store.get(queue, c!.id)).toMatchObject({ state: "completed" });
    expect(await store.get(queue, b!.id)).toEqual(beforeB);
  });

  it("a token gone stale (the job cancelled, or claimed again after its lease ran out) is refused per item", async () => {
    const queue = uniqueQueue();
    const [kept, cancelled] = await addAndClaim(queue, 2);
    expect((await api.delete(`/v1/queues/${queue}/jobs/${cancelled!.id}`)).body).toEqual({ cancelled: true });
    const before = await store.get(queue, cancelled!.id);
    const answer = await api.post(`/v1/queues/${queue}/jobs/complete`, {
      jobs: [
        { id: cancelled!.id, leaseToken: cancelled!.leaseToken },
        { id: kept!.id, leaseToken: kept!.leaseToken },
      ],
    });
    expect(answer.status).toBe(200);
    expect(answer.body.results.map((r: { ok?: true; error?: { code: string } }) => r.error?.code ?? r.ok)).toEqual([
      "LEASE_LOST",
      true,
    ]);
    expect(await store.get(queue, cancelled!.id)).toEqual(before);
  });

  it("fails many by each job's own back-off and attempts (decideOutcome): retried, dead, or refused", async () => {
    const queue = uniqueQueue();
    expect(
      (
        await api.post(`/v1/queues/${queue}/jobs/bulk`, {
          jobs: [
            { payload: "retry", attempts: 3, backoff: "1h" },
            { payload: "last", attempts: 1 },
            { payload: "stale", attempts: 3 },
          ],
        })
      ).status,
    ).toBe(201);
    const [retry, last, stale] = (await api.post(`/v1/queues/${queue}/claim`, { limit: 3, lease: "1m" })).body
      .jobs as Claimed[];
    const beforeStale = await store.get(queue, stale!.id);
    const answer = await api.post(`/v1/queues/${queue}/jobs/fail`, {
      jobs: [
        { id: retry!.id, leaseToken: retry!.leaseToken, error: "boom" },
        { id: last!.id, leaseToken: last!.leaseToken, error: "out of tries" },
        { id: stale!.id, leaseToken: "not-the-token", error: "x" },
      ],
    });
    expect(answer.status).toBe(200);
    const [retried, dead, refused] = answer.body.results;
    expect(retried).toEqual({ id: retry!.id, ok: true, retryAt: expect.any(Number) });
    expect(retried.retryAt).toBeGreaterThan(Date.now() + 50 * 60_000);
    expect(dead).toEqual({ id: last!.id, ok: true, retryAt: null });
    expect(refused).toEqual({ id: stale!.id, error: expect.objectContaining({ code: "LEASE_LOST" }) });
    expect(await store.get(queue, retry!.id)).toMatchObject({
      state: "scheduled",
      attempts: 1,
      errors: [expect.objectContaining({ attempt: 1, message: "boom" })],
    });
    expect(await store.get(queue, last!.id)).toMatchObject({ state: "dead" });
    expect(await store.get(queue, stale!.id)).toEqual(beforeStale);
  });

  it("extends many leases; a lease too short is 400 for the whole request, with nothing extended", async () => {
    const queue = uniqueQueue();
    const [a, b] = await addAndClaim(queue, 2);
    const before = await snapshot(store, queue);
    const tooShort = await api.post(`/v1/queues/${queue}/jobs/extend`, {
      jobs: [{ id: a!.id, leaseToken: a!.leaseToken }],
      lease: "10ms",
    });
    expect(tooShort.status).toBe(400);
    expect(tooShort.body.error.code).toBe("INVALID_OPTION");
    expect(await snapshot(store, queue)).toEqual(before);

    const answer = await api.post(`/v1/queues/${queue}/jobs/extend`, {
      jobs: [
        { id: a!.id, leaseToken: a!.leaseToken },
        { id: b!.id, leaseToken: "stale-token" },
      ],
      lease: "10m",
    });
    expect(answer.status).toBe(200);
    const [extended, refused] = answer.body.results;
    expect(extended).toEqual({ id: a!.id, ok: true, leaseExpiresAt: expect.any(Number) });
    expect(extended.leaseExpiresAt).toBeGreaterThan(a!.leaseExpiresAt + 5 * 60_000);
    expect(refused.error.code).toBe("LEASE_LOST");
    expect((await store.get(queue, b!.id))?.leaseExpiresAt).toBe(b!.leaseExpiresAt);
  });

  it("releases many without counting the attempt; refused items keep their lease", async () => {
    const queue = uniqueQueue();
    const [a, b] = await addAndClaim(queue, 2);
    const beforeB = await store.get(queue, b!.id);
    const answer = await api.post(`/v1/queues/${queue}/jobs/release`, {
      jobs: [
        { id: a!.id, leaseToken: a!.leaseToken },
        { id: b!.id, leaseToken: "stale-token" },
      ],
      delay: "1h",
    });
    expect(answer.status).toBe(200);
    expect(answer.body.results[0]).toEqual({ id: a!.id, ok: true });
    expect(answer.body.results[1].error.code).toBe("LEASE_LOST");
    const released = await store.get(queue, a!.id);
    expect(released).toMatchObject({ state: "scheduled", attempts: 0 });
    expect(released!.runAt).toBeGreaterThan(Date.now() + 50 * 60_000);
    expect(await store.get(queue, b!.id)).toEqual(beforeB);
  });

  it("releases many and pauses each job's group, or the queue; a job without a group keeps its lease", async () => {
    const queue = uniqueQueue();
    const [grouped] = await addAndClaim(queue, 1, { group: "gateway-1" });
    const [plain] = await addAndClaim(queue, 1);
    const before = await store.get(queue, plain!.id);
    const answer = await api.post(`/v1/queues/${queue}/jobs/release`, {
      jobs: [
        { id: grouped!.id, leaseToken: grouped!.leaseToken },
        { id: plain!.id, leaseToken: plain!.leaseToken },
      ],
      delay: "30s",
      pauseGroup: true,
    });
    expect(answer.status).toBe(200);
    expect(answer.body.results[0]).toEqual({ id: grouped!.id, ok: true });
    expect(answer.body.results[1].error.code).toBe("INVALID_OPTION");
    const released = (await store.get(queue, grouped!.id))!;
    expect(released).toMatchObject({ state: "scheduled", attempts: 0 });
    const group = await store.groupState(queue, "gateway-1");
    expect(group.pausedUntil).not.toBeNull();
    expect(Math.abs(group.pausedUntil! - released.runAt)).toBeLessThan(1000);
    expect((await store.flowSettings(queue)).pausedUntil).toBeNull();
    expect(await store.get(queue, plain!.id)).toEqual(before);

    const queueWide = await api.post(`/v1/queues/${queue}/jobs/release`, {
      jobs: [{ id: plain!.id, leaseToken: plain!.leaseToken }],
      delay: "30s",
      pauseQueue: true,
    });
    expect(queueWide.body.results[0]).toEqual({ id: plain!.id, ok: true });
    expect((await store.flowSettings(queue)).pausedUntil).toBeGreaterThan(Date.now() + 20_000);
    const bad = await api.post(`/v1/queues/${queue}/jobs/release`, {
      jobs: [{ id: plain!.id, leaseToken: plain!.leaseToken }],
      pauseGroup: "yes",
    });
    expect(bad.status).toBe(400);
  });

  it("a result over the payload limit is refused for its item alone", async () => {
    const queue = uniqueQueue();
    const [a, b] = await addAndClaim(queue, 2);
    const answer = await api.post(`/v1/queues/${queue}/jobs/complete`, {
      jobs: [
        { id: a!.id, leaseToken: a!.leaseToken, result: "x".repeat(300_000) },
        { id: b!.id, leaseToken: b!.leaseToken, result: 1 },
      ],
    });
    expect(answer.status).toBe(200);
    expect(answer.body.results[0].error.code).toBe("PAYLOAD_TOO_LARGE");
    expect(answer.body.results[1]).toEqual({ id: b!.id, ok: true });
    expect(await store.get(queue, a!.id)).toMatchObject({ state: "active", leaseToken: a!.leaseToken });
  });

  it("takes up to 1000 items a call: 1000 claimed and completed in one call each, 1001 or none is 400", async () => {
    const queue = uniqueQueue();
    const claimed = await addAndClaim(queue, 1000);
    const jobs = claimed.map((job) => ({ id: job.id, leaseToken: job.leaseToken }));
    const before = await snapshot(store, queue);
    for (const refused of [
      { jobs: [...jobs, { id: "x", leaseToken: "y" }] },
      { jobs: [] },
      { jobs: [{ id: jobs[0]!.id }] },
      { jobs: [{ ...jobs[0]!, unknown: 1 }] },
      { jobs: [{ ...jobs[0]!, id: "" }] },
      { jobs: jobs.slice(0, 1), extra: true },
    ]) {
      const answer = await api.post(`/v1/queues/${queue}/jobs/complete`, refused);
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatchObject({ code: "INVALID_REQUEST", message: expect.any(String) });
    }
    expect(await snapshot(store, queue)).toEqual(before);

    const answer = await api.post(`/v1/queues/${queue}/jobs/complete`, { jobs });
    expect(answer.status).toBe(200);
    expect(answer.body.results).toHaveLength(1000);
    expect(answer.body.results.every((r: { ok?: boolean }) => r.ok === true)).toBe(true);
    expect(answer.body.results.map((r: { id: string }) => r.id)).toEqual(jobs.map((job) => job.id));
    expect((await api.get(`/v1/queues/${queue}/counts`)).body).toMatchObject({ active: 0, completed: 1000 });
  });
});
