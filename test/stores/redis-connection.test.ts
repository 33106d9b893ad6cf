import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_BACKOFF } from "../../packages/checkback/src/core/backoff.js";
import { openStore } from "../../packages/checkback/src/stores/open-store.js";
import { RedisStore } from "../../packages/checkback/src/stores/redis/redis-store.js";
import type { NewJob, Store } from "../../packages/checkback/src/stores/store.js";
import { RedisServerProcess, redisServerAvailable } from "../support/redis-server-process.js";

/**
 * Redis out of reach: clear errors naming the server (never its password) and the cause,
 * within a few seconds, and calls that work again once the server is back. Private servers on
 * ports 6410–6419 only (loopback), so the shared Redis is never touched.
 */
const available = await redisServerAvailable();
if (!available) {
  if (process.env.CI === "true") throw new Error("redis-server is needed for the Redis connection tests");
  console.warn("\n!!! SKIPPING the Redis connection tests: no redis-server binary (set REDIS_SERVER)\n");
}

const job = (queue: string, overrides: Partial<NewJob> = {}): NewJob => ({
  queue,
  key: null,
  payload: "{}",
  when: { delayMs: 0 },
  maxAttempts: 1,
  backoff: DEFAULT_BACKOFF,
  onDuplicate: "keep",
  ...overrides,
});

async function refusal(call: Promise<unknown>): Promise<{ error: Error & { code?: string }; ms: number }> {
  const started = Date.now();
  const error = await call.then(
    () => new Error("the call succeeded"),
    (e: Error) => e,
  );
  return { error, ms: Date.now() - started };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe.skipIf(!available)("Redis store connection errors", () => {
  const stores: Store[] = [];
  const open = (url: string) => {
    const store = openStore(url);
    stores.push(store);
    return store;
  };
  let silent: Server;
  const sockets: Socket[] = [];
  const plain = new RedisServerProcess(6411, []);

  beforeAll(async () => {
    // Accepts connections and never answers.
    silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    await plain.start();
  });

  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
    await plain.stop();
  });

  it("names the URL without its password and the cause when nothing listens", async () => {
    const port = await closedPort();
    const store = open(`redis://user:s3cret@127.0.0.1:${port}`);
    const { error, ms } = await refusal(store.add([job("q")]));
    expect(error.code).toBe("STORE_UNAVAILABLE");
    expect(error.message).toContain(`redis://user:***@127.0.0.1:${port}`);
    expect(error.message).toContain("ECONNREFUSED");
    expect(error.message).not.toContain("s3cret");
    expect(ms).toBeLessThan(2_000);
  });

  it("gives up on a server that never answers within the timeout", async () => {
    const { port } = silent.address() as { port: number };
    const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, timeoutMs: 1_000, checkDurability: false });
    stores.push(store);
    const { error, ms } = await refusal(store.counts("q"));
    expect(error.code).toBe("STORE_UNAVAILABLE");
    expect(error.message).toContain(`redis://127.0.0.1:${port}`);
    expect(ms).toBeLessThan(3_000);
  });

  it("says so when rediss:// meets a server without TLS", async () => {
    const store = open(`rediss://127.0.0.1:${plain.port}`);
    const { error, ms } = await refusal(store.counts("q"));
    expect(error.code).toBe("STORE_UNAVAILABLE");
    expect(error.message).toContain(`rediss://127.0.0.1:${plain.port}`);
    expect(ms).toBeLessThan(8_000);
  }, 15_000);

  it("says so when redis+cluster:// meets a Redis that is not a cluster", async () => {
    const store = open(`redis+cluster://127.0.0.1:${plain.port}`);
    const { error, ms } = await refusal(store.counts("q"));
    expect(error.code).toBe("STORE_UNAVAILABLE");
    expect(error.message).toContain(`redis+cluster://127.0.0.1:${plain.port}`);
    expect(error.message).toMatch(/cluster support disabled/);
    expect(ms).toBeLessThan(5_000);
  });
});

describe.skipIf(!available)("Redis store while Redis is down", () => {
  const server = new RedisServerProcess(6412, []);
  let store: RedisStore;

  beforeAll(async () => {
    await server.start();
    store = new RedisStore({ url: server.url, checkDurability: false });
  });

  afterAll(async () => {
    await store?.close();
    await server.stop();
  });

  it("fails fast with STORE_UNAVAILABLE while down, and works again once it is back", async () => {
    const queue = "outage";
    await store.add([job(queue)]);
    const [held] = (await store.claimDue(queue, { limit: 1, leaseMs: 60_000 })).jobs;
    await server.kill();

    for (const call of [
      () => store.add([job(queue)]),
      () => store.claimDue(queue, { limit: 1, leaseMs: 1000 }),
      () => store.complete(queue, held!.id, held!.leaseToken!, { result: null }),
      () => store.counts(queue),
      () => store.now(),
    ]) {
      const { error, ms } = await refusal(call());
      expect(error.code, error.message).toBe("STORE_UNAVAILABLE");
      expect(error.message).toContain(`redis://127.0.0.1:${server.port}`);
      expect(ms).toBeLessThan(3_000);
    }

    await server.start(); // an empty server: no AOF here
    const deadline = Date.now() + 10_000;
    for (;;) {
      const outcome = await store.add([job(queue)]).then(
        (added) => added,
        (e: Error) => e,
      );
      if (!(outcome instanceof Error)) {
        expect(outcome[0]!.outcome).toBe("created");
        break;
      }
      if (Date.now() > deadline) throw outcome;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect((await store.counts(queue)).scheduled).toBe(1);
  }, 30_000);
});

describe.skipIf(!available)("Redis redrive and purge of all, in bounded batches", () => {
  const server = new RedisServerProcess(6413, []);
  let store: RedisStore;

  beforeAll(async () => {
    await server.start();
    store = new RedisStore({ url: server.url, checkDurability: false, adminBatchSize: 1000 });
  });

  afterAll(async () => {
    await store?.close();
    await server.stop();
  });

  async function scriptCalls(): Promise<number> {
    const stats = (await store.client.info("commandstats")) as string;
    let calls = 0;
    for (const match of stats.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)) calls += Number(match[1]);
    return calls;
  }

  it("redrives and purges 25k dead jobs, at most a batch per script call", async () => {
    const queue = "dead";
    const total = 25_000;
    // A few keyed jobs whose key is held by a waiting job: left dead by redrive, passed over.
    for (let i = 0; i < total; i += 5_000) {
      await store.add(Array.from({ length: 5_000 }, (_, k) => job(queue, { key: i + k < 3 ? `held-${i + k}` : null })));
    }
    for (let claimed = 0; claimed < total; ) {
      const { jobs } = await store.claimDue(queue, { limit: 5_000, leaseMs: 1 });
      claimed += jobs.length;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    // The leases ran out with no attempt left: the next claim sends them dead.
    while ((await store.counts(queue)).active > 0) await store.claimDue(queue, { limit: 5_000, leaseMs: 1 });
    expect((await store.counts(queue)).dead).toBe(total);
    await store.add([0, 1, 2].map((i) => job(queue, { key: `held-${i}`, when: { delayMs: 600_000 } })));

    let before = await scriptCalls();
    expect(await store.redrive(queue, { all: true }, { delayMs: 600_000 })).toBe(total - 3);
    expect(await scriptCalls()).toBeGreaterThanOrEqual(before + total / 1000);
    expect(await store.counts(queue)).toMatchObject({ dead: 3, scheduled: total });

    // Send them dead again (claim with an expired lease), then purge.
    await store.redrive(queue, { all: true }, { delayMs: 0 }); // nothing more: keys still held
    const redriven = await store.list(queue, "dead", { limit: 10 });
    expect(redriven.jobs).toHaveLength(3);
    before = await scriptCalls();
    expect(await store.purge(queue, "dead", { all: true })).toBe(3);
    expect(await store.counts(queue)).toMatchObject({ dead: 0 });
    expect(await scriptCalls()).toBeGreaterThanOrEqual(before + 1);
  }, 60_000);
});
