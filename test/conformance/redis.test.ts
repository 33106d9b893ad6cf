import { describe, it } from "vitest";
import { RedisStore } from "../../packages/checkback/src/stores/redis/redis-store.js";
import { REDIS_URL, reachable } from "../support/redis-env.js";
import { runStoreConformance } from "./store-suite.js";

// Every test uses its own queue names, so the suite shares the server with anything else;
// the prefix keeps its keys apart and lets them be deleted afterwards.
const prefix = `cbtest-${process.pid}`;

if (await reachable(REDIS_URL, "Redis", "redis-server --port 6379")) {
  runStoreConformance("redis", async () => {
    const store = new RedisStore({ url: REDIS_URL, prefix, checkDurability: false });
    return {
      store,
      sibling: () => new RedisStore({ url: REDIS_URL, prefix, checkDurability: false }),
      close: async () => {
        await deleteKeys(store, `${prefix}:*`);
        await store.close();
      },
    };
  });
} else {
  describe.skip("Store conformance: redis (no Redis)", () => it("needs Redis", () => {}));
}

async function deleteKeys(store: RedisStore, pattern: string): Promise<void> {
  const client = store.client as import("ioredis").Redis;
  for await (const keys of client.scanStream({ match: pattern, count: 1000 })) {
    if ((keys as string[]).length > 0) await client.unlink(...(keys as string[]));
  }
}
