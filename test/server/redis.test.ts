import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisStore } from "../../packages/checkback/src/stores/redis/redis-store.js";
import { REDIS_URL, reachable } from "../support/redis-env.js";
import { startReceiver, startTestServer, type TestServer, uniqueQueue, until } from "./helpers.js";

// The server is backend-agnostic; this runs its pull and push paths once on Redis, where
// wake-ups for long-polls arrive from the store rather than from this process.
const prefix = `cbserver-${process.pid}`;

if (await reachable(REDIS_URL, "Redis", "redis-server --port 6379")) {
  describe("server on Redis", () => {
    let server: TestServer;
    let store: RedisStore;
    beforeAll(async () => {
      store = new RedisStore({ url: REDIS_URL, prefix, checkDurability: false });
      server = await startTestServer({}, store);
    });
    afterAll(async () => {
      const client = store.client as import("ioredis").Redis;
      const keys: string[] = [];
      for await (const batch of client.scanStream({ match: `${prefix}:*`, count: 1000 })) keys.push(...batch);
      if (keys.length > 0) await client.unlink(...keys);
      await server.close();
    });

    it("a long-poll claim answers when a job falls due; complete and stale tokens behave", async () => {
      const queue = uniqueQueue();
      const claim = server.api.post(`/v1/queues/${queue}/claim`, { wait: "10s" });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const added = (await server.api.post(`/v1/queues/${queue}/jobs`, { payload: { n: 1 }, delay: "200ms" })).body;
      const [job] = (await claim).body.jobs;
      expect(job.id).toBe(added.id);
      expect(Date.now()).toBeGreaterThanOrEqual(added.runAt);
      const stale = await server.api.post(`/v1/queues/${queue}/jobs/${job.id}/complete`, { leaseToken: "stale" });
      expect(stale.status).toBe(409);
      const done = await server.api.post(`/v1/queues/${queue}/jobs/${job.id}/complete`, { leaseToken: job.leaseToken });
      expect(done.body).toEqual({ completed: true });
    });

    it("push delivery retries a failing receiver until it succeeds", async () => {
      const queue = uniqueQueue();
      let calls = 0;
      const receiver = await startReceiver((_request, _body, response) => {
        calls += 1;
        response.writeHead(calls < 2 ? 500 : 200).end();
      });
      try {
        await server.api.put(`/v1/queues/${queue}/push`, { url: receiver.url });
        const added = (await server.api.post(`/v1/queues/${queue}/jobs`, { payload: 1, backoff: "100ms" })).body;
        await until(
          async () => (await server.api.get(`/v1/queues/${queue}/jobs/${added.id}`)).body.state === "completed",
          "completion",
        );
        expect(calls).toBe(2);
      } finally {
        await receiver.close();
      }
    });
  });
} else {
  describe.skip("server on Redis (no Redis)", () => it("needs Redis", () => {}));
}
