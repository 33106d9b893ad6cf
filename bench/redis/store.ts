import { Redis } from "ioredis";
import { RedisStore } from "../../packages/checkback/src/stores/redis/redis-store.js";
import { redisStats } from "../lib/redis-info.js";
import type { Footprint } from "../runners/system.js";

/**
 * The Redis store for the benchmark: on the same Redis as BullMQ (--redis-url), under a key
 * prefix of its own per benchmark process, so it can measure and delete exactly what it wrote.
 */
export async function openRedisBenchStore(redisUrl: string): Promise<{
  store: RedisStore;
  footprint(): Promise<Footprint>;
  cleanup(): Promise<void>;
}> {
  const prefix = `checkback-bench-${process.pid}`;
  // The benchmark Redis is a throwaway: the durability warning would only be noise here.
  const store = new RedisStore({ url: redisUrl, prefix, checkDurability: false });
  return {
    store,
    footprint: async () => {
      // Memory and CPU of the server, so the drain's jobs per CPU-second counts Redis's share as it does for BullMQ.
      const stats = await redisStats(redisUrl);
      return { redisUsedMemoryBytes: stats.usedMemoryBytes, redisCpuSeconds: stats.cpuSeconds };
    },
    cleanup: async () => {
      await deleteByPrefix(redisUrl, prefix);
    },
  };
}

/** SCAN + UNLINK of the prefix's keys: only what this benchmark process created. */
export async function deleteByPrefix(redisUrl: string, prefix: string): Promise<number> {
  const client = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  let deleted = 0;
  try {
    for await (const keys of client.scanStream({ match: `${prefix}:*`, count: 5_000 })) {
      const batch = keys as string[];
      if (batch.length > 0) deleted += await client.unlink(...batch);
    }
  } finally {
    client.disconnect();
  }
  return deleted;
}
