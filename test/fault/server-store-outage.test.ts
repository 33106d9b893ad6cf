import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { PostgresServerProcess, postgresServerAvailable } from "../support/postgres-server-process.js";
import { RedisServerProcess, redisServerAvailable } from "../support/redis-server-process.js";
import { call, type ServerProcess, startPuller, startReceiver, startServerProcess, waitFor } from "./server-harness.js";

/**
 * The server over a store that goes away and comes back, on private Redis and PostgreSQL
 * servers (never the shared ones): while the store is down adds answer 503 STORE_UNAVAILABLE
 * within a few seconds, /readyz says so and /healthz stays up; once it is back every add that
 * was acknowledged is delivered to the push and pull consumers that kept running; and SIGTERM
 * with the store down ends the process within a few seconds.
 */
interface PrivateStore {
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

function privateRedis(): PrivateStore {
  // Every write is on disk before Redis answers, so a kill loses nothing acknowledged.
  const redis = new RedisServerProcess(6420, ["--appendonly", "yes", "--appendfsync", "always"]);
  // kill() twice would wait for a second exit that never comes: track whether it runs.
  let running = false;
  return {
    url: redis.url,
    start: async () => {
      await redis.start();
      running = true;
    },
    stop: async () => {
      if (running) await redis.kill();
      running = false;
    },
    destroy: async () => {
      if (running) await redis.kill();
      running = false;
      rmSync(redis.dir, { recursive: true, force: true });
    },
  };
}

function privatePostgres(): PrivateStore {
  const pg = new PostgresServerProcess(5460);
  return { url: pg.url, start: () => pg.start(), stop: () => pg.stop(), destroy: () => pg.destroy() };
}

const redisAvailable = await redisServerAvailable();
const postgresAvailable = postgresServerAvailable();
for (const [name, ok] of [
  ["redis-server", redisAvailable],
  ["PostgreSQL binaries", postgresAvailable],
] as const) {
  if (!ok) {
    if (process.env.CI === "true") throw new Error(`${name} needed for the server outage tests`);
    console.warn(`\n!!! SKIPPING server outage tests on ${name}: not installed\n`);
  }
}

const cases: [string, boolean, () => PrivateStore][] = [
  ["redis", redisAvailable, privateRedis],
  ["postgres", postgresAvailable, privatePostgres],
];

describe.each(cases)("server over a %s store that goes down", (_kind, available, make) => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  });

  it.skipIf(!available)(
    "answers 503 fast while the store is down, delivers every acknowledged job after, and stops promptly",
    async () => {
      const store = make();
      cleanup.push(() => store.destroy());
      await store.start();
      const server: ServerProcess = await startServerProcess(store.url);
      cleanup.push(async () => server.child.kill("SIGKILL"));
      const base = server.url;
      const receiver = await startReceiver();
      cleanup.push(() => new Promise((resolve) => receiver.server.close(resolve)));

      const pushQueue = `push-${randomUUID().slice(0, 8)}`;
      const pullQueue = `pull-${randomUUID().slice(0, 8)}`;
      expect(
        (await call(base, "PUT", `/v1/queues/${pushQueue}/push`, { url: receiver.url, timeout: "2s" })).status,
      ).toBe(200);
      const puller = startPuller(base, pullQueue);
      cleanup.push(() => puller.stop());

      const acknowledged = new Map<string, string>(); // mark → queue
      let n = 0;
      const add = async (queue: string) => {
        const mark = `${queue}:${n++}`;
        const answer = await call(base, "POST", `/v1/queues/${queue}/jobs`, {
          payload: { mark },
          delay: "300ms",
          key: mark,
          attempts: 20,
          backoff: "500ms",
        });
        if (answer.status === 201) acknowledged.set(mark, queue);
        return answer;
      };
      for (let i = 0; i < 10; i++) {
        expect((await add(pushQueue)).status).toBe(201);
        expect((await add(pullQueue)).status).toBe(201);
      }
      expect((await call(base, "GET", "/readyz")).status).toBe(200);

      await store.stop();

      // Adds: a typed 503 within a few seconds (not a 500, not an 18 s hang).
      for (const queue of [pushQueue, pullQueue]) {
        const answer = await add(queue);
        expect(answer.status, JSON.stringify(answer.body)).toBe(503);
        expect(answer.body.error?.code).toBe("STORE_UNAVAILABLE");
        expect(answer.ms).toBeLessThan(7_000);
      }
      const ready = await call(base, "GET", "/readyz");
      expect(ready.status).toBe(503);
      expect(ready.body.error?.code).toBe("STORE_UNAVAILABLE");
      expect(ready.ms).toBeLessThan(3_000);
      const health = await call(base, "GET", "/healthz");
      expect(health.status).toBe(200);

      await store.start();
      await waitFor(
        "/readyz to answer 200 again",
        async () => (await call(base, "GET", "/readyz")).status === 200,
        20_000,
      );
      for (let i = 0; i < 5; i++) {
        expect((await add(pushQueue)).status).toBe(201);
        expect((await add(pullQueue)).status).toBe(201);
      }

      const missing = () =>
        [...acknowledged].filter(
          ([mark, queue]) => !(queue === pushQueue ? receiver.received : puller.received).has(mark),
        );
      await waitFor("every acknowledged job to be delivered", () => missing().length === 0, 30_000).catch(() => {
        throw new Error(
          `never delivered: ${missing()
            .map(([mark]) => mark)
            .join(", ")}`,
        );
      });
      expect(acknowledged.size).toBe(30);

      // Shutdown with the store down: bounded, whatever the push worker and the long-polls were doing.
      await store.stop();
      await add(pushQueue); // a request into the outage, so the server has seen it fail
      const signalled = Date.now();
      server.child.kill("SIGTERM");
      const code = await server.exited;
      expect(Date.now() - signalled).toBeLessThan(5_000);
      expect(code).toBe(0);
    },
    90_000,
  );
});
