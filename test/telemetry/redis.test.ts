import { describe, it } from "vitest";
import { RedisStore } from "../../packages/checkback/src/stores/redis/redis-store.js";
import { REDIS_URL, reachable } from "../support/redis-env.js";
import { runTraceSuite } from "./trace-suite.js";

// Keys under a prefix of this run's own, deleted afterwards: the server is shared.
const prefix = `cbtrace-${process.pid}`;

if (await reachable(REDIS_URL, "Redis", "redis-server --port 6379")) {
  runTraceSuite("redis", async () => {
    const store = new RedisStore({ url: REDIS_URL, prefix, checkDurability: false });
    return {
      store,
      beforeClose: async () => {
        const client = store.client as import("ioredis").Redis;
        for await (const keys of client.scanStream({ match: `${prefix}:*`, count: 1000 })) {
          if ((keys as string[]).length > 0) await client.unlink(...(keys as string[]));
        }
      },
    };
  });
} else {
  describe.skip("tracing: redis (no Redis)", () => it("needs Redis", () => {}));
}
