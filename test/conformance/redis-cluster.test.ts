import type { Cluster } from "ioredis";
import { describe, it } from "vitest";
import { RedisStore } from "../../packages/checkback/src/stores/redis/redis-store.js";
import { clusterNodes, REDIS_CLUSTER_URL, reachable } from "../support/redis-env.js";
import { runStoreConformance } from "./store-suite.js";

// One logical queue spread over 6 partitions (hash slots) on a 3-master cluster.
const prefix = `cbtest-${process.pid}`;

if (await reachable(REDIS_CLUSTER_URL, "Redis Cluster", "scripts/redis-cluster.sh start")) {
  runStoreConformance("redis cluster (6 partitions)", async () => {
    const store = new RedisStore({ cluster: { nodes: clusterNodes() }, prefix, partitions: 6 });
    return {
      store,
      sibling: () =>
        new RedisStore({ cluster: { nodes: clusterNodes() }, prefix, partitions: 6, checkDurability: false }),
      close: async () => {
        await deleteKeys(store.client as Cluster, `${prefix}:*`);
        await store.close();
      },
    };
  });
} else {
  describe.skip("Store conformance: redis cluster (no cluster)", () => it("needs a Redis Cluster", () => {}));
}

async function deleteKeys(cluster: Cluster, pattern: string): Promise<void> {
  for (const node of cluster.nodes("master")) {
    for await (const keys of node.scanStream({ match: pattern, count: 1000 })) {
      // Keys of one scan page may sit in different slots: delete one at a time.
      for (const key of keys as string[]) await node.unlink(key);
    }
  }
}
