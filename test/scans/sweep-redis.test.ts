import type { Cluster, Redis } from "ioredis";
import { describe, it } from "vitest";
import { RedisStore, type RedisStoreOptions } from "../../packages/checkback/src/stores/redis/redis-store.js";
import { clusterNodes, REDIS_CLUSTER_URL, REDIS_URL, reachable } from "../support/redis-env.js";
import { runSweepSuite } from "./sweep-suite.js";

// Each test gets its own key prefix; a peer is a second connection, as another process would have.
let run = 0;
function redisSuite(backend: string, options: (prefix: string) => RedisStoreOptions): void {
  runSweepSuite(backend, async () => {
    const prefix = `cbsweeps-${process.pid}-${run++}`;
    const stores: RedisStore[] = [];
    const open = () => {
      const store = new RedisStore({ ...options(prefix), checkDurability: false });
      stores.push(store);
      return store;
    };
    const store = open();
    return {
      store,
      peer: open,
      close: async () => {
        const client = stores[0]!.client as Redis | Cluster;
        const nodes = "nodes" in client ? client.nodes("master") : [client];
        for (const node of nodes) {
          for await (const keys of node.scanStream({ match: `${prefix}:*`, count: 1000 })) {
            for (const key of keys as string[]) await node.unlink(key);
          }
        }
        for (const each of stores) await each.close();
      },
    };
  });
}

if (await reachable(REDIS_URL, "Redis", "redis-server --port 6379")) {
  redisSuite("redis", (prefix) => ({ url: REDIS_URL, prefix }));
} else {
  describe.skip("sweeps on redis (no Redis)", () => it("needs Redis", () => {}));
}
if (await reachable(REDIS_CLUSTER_URL, "Redis Cluster", "scripts/redis-cluster.sh start")) {
  redisSuite("redis cluster", (prefix) => ({ cluster: { nodes: clusterNodes() }, prefix, partitions: 3 }));
} else {
  describe.skip("sweeps on redis cluster (no cluster)", () => it("needs a Redis Cluster", () => {}));
}
