import { describe, it } from "vitest";
import { RedisStore } from "../../packages/checkback/src/stores/redis/redis-store.js";
import type { Store } from "../../packages/checkback/src/stores/store.js";
import { REDIS_URL, reachable } from "../support/redis-env.js";
import { runScheduleSuite } from "./schedule-suite.js";

// Each test gets its own key prefix; a peer is a second connection, as another process would have.
if (await reachable(REDIS_URL, "Redis", "redis-server --port 6379")) {
  let run = 0;
  runScheduleSuite("redis", async () => {
    const prefix = `cbsched-${process.pid}-${run++}`;
    const stores: RedisStore[] = [];
    const open = () => {
      const store = new RedisStore({ url: REDIS_URL, prefix, checkDurability: false });
      stores.push(store);
      return store;
    };
    const store: Store = open();
    return {
      store,
      peer: open,
      close: async () => {
        const client = stores[0]!.client as import("ioredis").Redis;
        for await (const keys of client.scanStream({ match: `${prefix}:*`, count: 1000 })) {
          if ((keys as string[]).length > 0) await client.unlink(...(keys as string[]));
        }
        for (const each of stores) await each.close();
      },
    };
  });
} else {
  describe.skip("schedules on redis (no Redis)", () => it("needs Redis", () => {}));
}
