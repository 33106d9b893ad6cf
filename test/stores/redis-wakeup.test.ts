import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { RedisStore } from "../../packages/checkback/src/stores/redis/redis-store.js";
import { RedisServerProcess, redisServerAvailable } from "../support/redis-server-process.js";

/**
 * Precision does not depend on the server's `hz`. With hz 1 the server's timer ticks once a
 * second, so a design that waits inside Redis (a blocking pop whose timeout is checked on that
 * tick) fires delayed jobs about half a second late on average. checkback's workers sleep on
 * their own timers and are woken by pub/sub, so at hz 1 its jobs still fire within a few ms.
 * The bound below (median under 250 ms) is far from both, so it does not flake on a busy
 * machine; `bench/redis/hz.ts` measures the actual figures.
 */
const available = await redisServerAvailable();
if (!available) {
  if (process.env.CI === "true") throw new Error("redis-server is needed for the Redis wake-up test");
  console.warn("\n!!! SKIPPING the Redis hz test: no redis-server binary (set REDIS_SERVER)\n");
}

describe.skipIf(!available)("Redis store wake-ups on a server with hz 1", () => {
  const server = new RedisServerProcess(6394, ["--hz", "1", "--appendonly", "no"]);
  let store: RedisStore;
  let cb: Checkback;

  beforeAll(async () => {
    await server.start();
    store = new RedisStore({ url: server.url, checkDurability: false });
    cb = new Checkback({ store });
  });

  afterAll(async () => {
    await cb?.close();
    await server.stop();
  });

  it("fires delayed jobs on time whatever the server's timer resolution", async () => {
    const lateness: number[] = [];
    const worker = cb.worker("hz", async (job) => {
      lateness.push(job.startedAt - job.runAt);
    });
    const queue = cb.queue("hz");
    // Added one at a time, each due at its own instant, mostly while the worker sleeps.
    for (let i = 0; i < 20; i++) await queue.add({ i }, { delay: 150 + ((i * 97) % 1_000) });
    const deadline = Date.now() + 15_000;
    while (lateness.length < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await worker.close();
    expect(lateness).toHaveLength(20);
    expect(Math.min(...lateness)).toBeGreaterThanOrEqual(0);
    const median = [...lateness].sort((a, b) => a - b)[10]!;
    console.info(`hz 1: median lateness ${median} ms, max ${Math.max(...lateness)} ms`);
    expect(median).toBeLessThan(250);
  });
});
