import type { Cluster } from "ioredis";
import { describe, it } from "vitest";
import { RedisStore } from "../../packages/checkback/src/stores/redis/redis-store.js";
import { clusterNodes, REDIS_CLUSTER_URL, reachable } from "../support/redis-env.js";
import { runScheduleSuite } from "./schedule-suite.js";

// Each test gets its own key prefix; queues spread over 3 partitions; a peer is a second connection.
if (await reachable(REDIS_CLUSTER_URL, "Redis Cluster", "scripts/redis-cluster.sh start")) {
  let run = 0;
  runScheduleSuite("redis cluster (3 partitions)", async () => {
    const prefix = `cbsched-${process.pid}-${run++}`;
    const stores: RedisStore[] = [];
    const open = () => {
      const store = new RedisStore({
        cluster: { nodes: clusterNodes() },
        prefix,
        partitions: 3,
        checkDurability: false,
      });
      stores.push(store);
      return store;
    };
    const store = open();
    return {
      store,
      peer: open,
      close: async () => {
        const cluster = stores[0]!.client as Cluster;
        for (const node of cluster.nodes("master")) {
          for await (const keys of node.scanStream({ match: `${prefix}:*`, count: 1000 })) {
            for (const key of keys as string[]) await node.unlink(key);
          }
        }
        for (const each of stores) await each.close();
      },
    };
  });
} else {
  describe.skip("schedules on redis cluster (no cluster)", () => it("needs a Redis Cluster", () => {}));
}
