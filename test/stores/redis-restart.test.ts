import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_BACKOFF } from "../../packages/checkback/src/core/backoff.js";
import { RedisStore } from "../../packages/checkback/src/stores/redis/redis-store.js";
import type { NewJob } from "../../packages/checkback/src/stores/store.js";
import { RedisServerProcess, redisServerAvailable } from "../support/redis-server-process.js";

/**
 * Durability: a Redis with appendonly yes / appendfsync everysec is killed (SIGKILL, no
 * shutdown save) while a producer is adding jobs, and started again on the same files. Every
 * job whose add was acknowledged must still be there; adds that failed while it was down are
 * the producer's to retry.
 */
const available = await redisServerAvailable();
if (!available) {
  if (process.env.CI === "true") throw new Error("redis-server is needed for the Redis restart test");
  console.warn("\n!!! SKIPPING the Redis restart test: no redis-server binary (set REDIS_SERVER)\n");
}

describe.skipIf(!available)("Redis store across a Redis restart (AOF)", () => {
  const server = new RedisServerProcess(6390, [
    "--appendonly",
    "yes",
    "--appendfsync",
    "everysec",
    "--maxmemory-policy",
    "noeviction",
  ]);
  let store: RedisStore;

  beforeAll(async () => {
    await server.start();
    const warnings: string[] = [];
    store = new RedisStore({ url: server.url, onWarning: (m) => warnings.push(m) });
    expect(await store.durability).toEqual([]);
    expect(warnings).toEqual([]);
  });

  afterAll(async () => {
    await store?.close();
    await server.stop();
  });

  it("keeps every acknowledged job when Redis is killed mid-run and restarted", async () => {
    const queue = "restart";
    const acknowledged: { id: string; payload: string }[] = [];
    let failures = 0;
    let producing = true;
    const job = (i: number): NewJob => ({
      queue,
      key: `order-${i}`,
      payload: JSON.stringify({ i }),
      when: { delayMs: 60_000 },
      maxAttempts: 3,
      backoff: DEFAULT_BACKOFF,
      onDuplicate: "keep",
    });

    const producer = (async () => {
      for (let i = 0; producing; i++) {
        try {
          const [added] = await store.add([job(i)]);
          acknowledged.push({ id: added!.job.id, payload: added!.job.payload });
        } catch {
          failures += 1;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    })();

    await waitUntil(() => acknowledged.length >= 300);
    const runBefore = await runId(store);
    await server.kill();
    const beforeRestart = acknowledged.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    await server.start();
    await waitUntil(() => acknowledged.length >= beforeRestart + 300);
    producing = false;
    await producer;

    // It really was a new server process, which had only the AOF to go on.
    expect(await runId(store)).not.toBe(runBefore);
    console.info(`restart test: ${acknowledged.length} adds acknowledged, ${failures} failed while Redis was down`);
    const counts = await store.counts(queue);
    const missing: string[] = [];
    for (const { id, payload } of acknowledged) {
      const found = await store.get(queue, id);
      if (found?.state !== "scheduled" || found.payload !== payload) missing.push(id);
    }
    expect(missing).toEqual([]);
    expect(counts.scheduled).toBeGreaterThanOrEqual(acknowledged.length);
    // Ids keep increasing across the restart: the sequence counter survived with the jobs.
    expect(new Set(acknowledged.map((a) => a.id)).size).toBe(acknowledged.length);
  });
});

async function runId(store: RedisStore): Promise<string> {
  const info = await (store.client as import("ioredis").Redis).info("server");
  return /run_id:(\w+)/.exec(info)![1]!;
}

async function waitUntil(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
