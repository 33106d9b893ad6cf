import type { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_BACKOFF } from "../../packages/checkback/src/core/backoff.js";
import { RedisStore } from "../../packages/checkback/src/stores/redis/redis-store.js";
import type { NewJob } from "../../packages/checkback/src/stores/store.js";
import { clusterNodes, REDIS_CLUSTER_URL, reachable } from "../support/redis-env.js";

/** What a Redis Cluster adds: one queue spread over the masters, settings checked on each. */
const available = await reachable(REDIS_CLUSTER_URL, "Redis Cluster", "scripts/redis-cluster.sh start");
const prefix = `cbtest-cl-${process.pid}`;

describe.skipIf(!available)("Redis store on a cluster", () => {
  let store: RedisStore;
  let cluster: Cluster;
  beforeAll(() => {
    store = new RedisStore({ cluster: { nodes: clusterNodes() }, prefix, partitions: 6, checkDurability: false });
    cluster = store.client as Cluster;
  });
  afterAll(async () => {
    for (const node of cluster.nodes("master")) {
      for await (const keys of node.scanStream({ match: `${prefix}:*`, count: 1000 })) {
        for (const key of keys as string[]) await node.unlink(key);
      }
    }
    await store?.close();
  });

  const job = (queue: string, key: string | null = null): NewJob => ({
    queue,
    key,
    payload: "{}",
    when: { delayMs: 60_000 },
    maxAttempts: 3,
    backoff: DEFAULT_BACKOFF,
    onDuplicate: "keep",
  });

  it("spreads one queue over every master, each partition's keys in one slot", async () => {
    await store.add(Array.from({ length: 60 }, () => job("spread")));
    await store.add(Array.from({ length: 60 }, (_, i) => job("spread", `order-${i}`)));
    const masters = cluster.nodes("master");
    expect(masters.length).toBeGreaterThanOrEqual(3);
    const slotsByMaster: Set<number>[] = [];
    for (const node of masters) {
      const slots = new Set<number>();
      for await (const keys of node.scanStream({ match: `${prefix}:{spread:*`, count: 1000 })) {
        for (const key of keys as string[]) slots.add((await node.cluster("KEYSLOT", key)) as number);
      }
      slotsByMaster.push(slots);
    }
    for (const slots of slotsByMaster) expect(slots.size).toBeGreaterThan(0);
    // 6 partitions, 6 slots in all: every key of a partition shares its slot.
    expect(slotsByMaster.reduce((n, slots) => n + slots.size, 0)).toBe(6);
    expect((await store.counts("spread")).scheduled).toBe(120);
  });

  it("checks the durability settings of every master", async () => {
    const victim = cluster.nodes("master")[1]!;
    const [, before] = (await victim.config("GET", "appendonly")) as [string, string];
    await victim.config("SET", "appendonly", "no");
    const warnings: string[] = [];
    const checked = new RedisStore({ cluster: { nodes: clusterNodes() }, prefix, onWarning: (m) => warnings.push(m) });
    try {
      const problems = await checked.durability;
      const name = `${victim.options.host}:${victim.options.port}`;
      expect(problems.filter((p) => p.setting === "appendonly").map((p) => p.node)).toContain(name);
      expect(warnings.join("\n")).toContain(`${name} appendonly=no`);
    } finally {
      await victim.config("SET", "appendonly", before);
      await checked.close();
    }
  });
});
