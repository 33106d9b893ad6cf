import type { Cluster } from "ioredis";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_BACKOFF } from "../../packages/checkback/src/core/backoff.js";
import { RedisStore } from "../../packages/checkback/src/stores/redis/redis-store.js";
import type { NewJob } from "../../packages/checkback/src/stores/store.js";
import { clusterNodes, REDIS_CLUSTER_URL, REDIS_URL, reachable } from "../support/redis-env.js";
import { sleep, waitFor } from "../support/wait.js";

/**
 * What the Redis store does for groups beyond the shared contract (group-suite.ts): the keys
 * a group leaves behind, its memory, and on a cluster where a group's jobs live.
 */
const single = await reachable(REDIS_URL, "Redis", "redis-server --port 6379");
const clustered = await reachable(REDIS_CLUSTER_URL, "Redis Cluster", "scripts/redis-cluster.sh start");

const job = (queue: string, overrides: Partial<NewJob> = {}): NewJob => ({
  queue,
  key: null,
  payload: "{}",
  when: { delayMs: 0 },
  maxAttempts: 3,
  backoff: DEFAULT_BACKOFF,
  onDuplicate: "keep",
  ...overrides,
});

describe.skipIf(!single)("Redis store: groups", () => {
  const prefix = `cbtest-rg-${process.pid}`;
  let store: RedisStore;
  let raw: Redis;
  beforeAll(() => {
    store = new RedisStore({ url: REDIS_URL, prefix, checkDurability: false });
    raw = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    for await (const keys of raw.scanStream({ match: `${prefix}:*`, count: 1000 })) {
      if ((keys as string[]).length > 0) await raw.unlink(...(keys as string[]));
    }
    raw.disconnect();
    await store?.close();
  });

  /**
   * The partition's group keys that hold anything: jobs sets, states, ready, held, busiest, idle,
   * listing index. Not the turn counter of the current millisecond, which expires by itself, nor
   * the ready, busiest and state sets that hold only the member keeping their encoding.
   */
  async function groupKeys(queue: string): Promise<string[]> {
    const found: string[] = [];
    const base = `${prefix}:{${queue}:0}`;
    for await (const keys of raw.scanStream({ match: `${base}:g*`, count: 1000 })) found.push(...(keys as string[]));
    const held: string[] = [];
    for (const key of found) {
      const suffix = key.slice(base.length);
      if (suffix === ":gc") continue;
      if (suffix === ":gr" || suffix === ":ga") {
        if ((await raw.zcard(key)) === 1) continue;
      } else if (suffix === ":gs" && (await raw.hlen(key)) === 1) {
        continue;
      }
      held.push(suffix);
    }
    return held.sort();
  }

  async function drain(queue: string): Promise<void> {
    for (;;) {
      const { jobs } = await store.claimDue(queue, { limit: 100, leaseMs: 60_000 });
      if (jobs.length === 0) return;
      for (const j of jobs) await store.complete(queue, j.id, j.leaseToken!, { result: null });
    }
  }

  it("leaves no key behind once a group's jobs are done", async () => {
    const queue = "gone";
    await store.setGroupLimits(queue, "capped", { concurrency: 1, limit: null });
    await store.setGroupLimits(queue, "capped", null);
    await store.add([
      ...Array.from({ length: 5 }, (_, i) => job(queue, { group: "a", payload: `${i}` })),
      ...Array.from({ length: 3 }, () => job(queue, { group: "b" })),
      job(queue, { group: "c", key: "k", when: { delayMs: 3_600_000 } }),
    ]);
    expect(await groupKeys(queue)).toEqual([":g:a", ":g:b", ":g:c", ":gr", ":gt", ...(await gxKeys(queue))].sort());
    await drain(queue);
    await store.cancel(queue, { key: "k" });
    expect(await groupKeys(queue)).toEqual([]);
    expect(await store.groupState(queue, "a")).toMatchObject({ active: 0, scheduled: 0, ownLimits: false });
  });

  async function gxKeys(queue: string): Promise<string[]> {
    return (await raw.keys(`${prefix}:{${queue}:0}:gx:*`)).map((key) => key.slice(`${prefix}:{${queue}:0}`.length));
  }

  it("keeps a group without jobs only while its bucket refills or a pause lasts", async () => {
    const queue = "refill";
    await store.setGroupLimits(queue, null, { concurrency: null, limit: { rate: 2, perMs: 400 } });
    await store.add([job(queue, { group: "g" }), job(queue, { group: "g" })]);
    await drain(queue);
    await store.pauseGroup(queue, "p", { delayMs: 300 });
    // g's bucket is empty and p is paused: both kept, parked until they are worth nothing.
    expect(await raw.hexists(`${prefix}:{${queue}:0}:gs`, "g")).toBe(1);
    expect(await raw.hexists(`${prefix}:{${queue}:0}:gs`, "p")).toBe(1);
    expect((await raw.zrange(`${prefix}:{${queue}:0}:gi`, "0", "-1")).sort()).toEqual(["g", "p"]);
    expect((await store.groupState(queue, "g")).tokens).toBe(0);
    // Claims sweep them once the bucket is full again and the pause has ended.
    await waitFor(async () => {
      await store.claimDue(queue, { limit: 1, leaseMs: 1000 });
      return (await groupKeys(queue)).length === 1;
    }, 5000);
    expect(await store.groupState(queue, "g")).toMatchObject({ tokens: 2, pausedUntil: null });
    // The queue's default stays, in a key of its own.
    expect(await groupKeys(queue)).toEqual([":gl"]);
  });

  it("serves groups ready again at the instant they were served in the order they were served, not by name", async () => {
    const queue = "turns";
    const now = await store.now();
    await store.add([
      ...Array.from({ length: 2 }, (_, i) =>
        job(queue, { group: "c", payload: `"c${i}"`, when: { runAt: now - 2000 } }),
      ),
      ...Array.from({ length: 2 }, (_, i) =>
        job(queue, { group: "b", payload: `"b${i}"`, when: { runAt: now - 1000 } }),
      ),
    ]);
    const payloads = async () =>
      (await store.claimDue(queue, { limit: 2, leaseMs: 60_000 })).jobs.map((j) => JSON.parse(j.payload) as string);
    // c then b; both are ready again at that claim's instant, c's turn first.
    expect(await payloads()).toEqual(["c0", "b0"]);
    // sleep: pacing, so the next claim reads a later millisecond.
    await sleep(3);
    expect(await payloads()).toEqual(["c1", "b1"]);
  });

  it("keeps a big group's jobs in compact buckets, in due order and FIFO through splits", async () => {
    const queue = "big-group";
    const base = (await store.now()) - 60_000;
    // 900 jobs of one group: shuffled instants, and a run of 200 at one instant, added in bulk
    // and one by one (a keyed job takes the single-job path).
    const instants = shuffle(Array.from({ length: 700 }, (_, i) => base + 1 + 2 * i));
    const jobs = [
      ...instants.map((runAt) => job(queue, { group: "big", when: { runAt }, payload: JSON.stringify([runAt, 0]) })),
      ...Array.from({ length: 200 }, (_, i) =>
        job(queue, { group: "big", when: { runAt: base + 700 }, payload: JSON.stringify([base + 700, i + 1]) }),
      ),
    ];
    await store.add(jobs.slice(0, 500));
    for (const each of jobs.slice(500, 600)) await store.add([{ ...each, key: each.payload }]);
    await store.add(jobs.slice(600));
    const groupKey = `${prefix}:{${queue}:0}:g:big`;
    const directory = `${prefix}:{${queue}:0}:gd:big`;
    expect(await raw.zcard(directory)).toBeGreaterThan(3);
    expect(await raw.object("ENCODING", groupKey)).toBe("listpack");
    expect(await store.groupState(queue, "big")).toMatchObject({ scheduled: 900 });
    // One job from the middle of the backlog leaves by cancel, another moves to the end.
    const listed = await store.list(queue, "scheduled", { limit: 1000 });
    const middle = listed.jobs[450]!;
    const moved = listed.jobs[451]!;
    await store.cancel(queue, { id: middle.id });
    await store.reschedule(queue, { id: moved.id }, { runAt: base + 5000 });

    const claimed: [number, number][] = [];
    for (;;) {
      const { jobs: batch } = await store.claimDue(queue, { limit: 97, leaseMs: 60_000 });
      if (batch.length === 0) break;
      claimed.push(...batch.map((j) => JSON.parse(j.payload) as [number, number]));
    }
    expect(claimed).toHaveLength(899);
    const expected = jobs
      .map((j) => JSON.parse(j.payload) as [number, number])
      .filter((p) => JSON.stringify(p) !== middle.payload)
      .map((p): [number, number] => (JSON.stringify(p) === moved.payload ? [base + 5000, p[1]] : p))
      .sort((a, b) => a[0] - b[0] || a[1] - b[1])
      .map((p): [number, number] => (p[0] === base + 5000 ? (JSON.parse(moved.payload) as [number, number]) : p));
    expect(claimed).toEqual(expected);
    expect(await raw.exists(groupKey, directory)).toBe(0);
    expect((await groupKeys(queue)).filter((key) => key.startsWith(":gb:"))).toEqual([]);
  });

  it("keeps no state for a group that was never served and has no flow state", async () => {
    const queue = "lean";
    await store.add(Array.from({ length: 50 }, (_, i) => job(queue, { group: `g${i}`, when: { delayMs: 60_000 } })));
    expect(await raw.exists(`${prefix}:{${queue}:0}:gs`)).toBe(0);
    // 50 groups, and the member that keeps the set a skiplist.
    expect(await raw.zcard(`${prefix}:{${queue}:0}:gr`)).toBe(51);
  });

  it("stores grouped pending jobs and their groups compactly", async () => {
    // Two shapes: 20 groups of 100 jobs (the cost per grouped job), and 2,000 groups of one
    // job each (the cost of a group).
    const perJob = await bytesPerJob("grouped-jobs", 2_000, (i) => `merchant-${i % 20}`);
    const perGroup = await bytesPerJob("grouped-groups", 2_000, (i) => `merchant-${i}`);
    const plain = await bytesPerJob("plain-jobs", 2_000, () => null);
    console.info(
      `redis store (MEMORY USAGE): ${plain.toFixed(1)} B per ungrouped pending job, ${perJob.toFixed(1)} B per grouped ` +
        `job (20 groups of 100), ${perGroup.toFixed(1)} B per job in groups of one (job + group)`,
    );
    // Generous bounds that still fail for a hash or a skiplist entry per job, or a key per group beyond the jobs' set.
    expect(plain).toBeLessThan(100);
    expect(perJob).toBeLessThan(130);
    expect(perGroup).toBeLessThan(450);
  });

  async function bytesPerJob(queue: string, count: number, groupOf: (i: number) => string | null): Promise<number> {
    for (let i = 0; i < count; i += 500) {
      await store.add(
        Array.from({ length: 500 }, (_, k) =>
          job(queue, {
            when: { delayMs: 3_600_000 + (i + k) * 50 },
            payload: `{"order":${i + k}}`,
            group: groupOf(i + k),
          }),
        ),
      );
    }
    let bytes = 0;
    for await (const keys of raw.scanStream({ match: `${prefix}:{${queue}:0}:*`, count: 1000 })) {
      for (const key of keys as string[]) bytes += (await raw.memory("USAGE", key, "SAMPLES", "0")) ?? 0;
    }
    return bytes / count;
  }
});

describe.skipIf(!clustered)("Redis store on a cluster: groups", () => {
  const prefix = `cbtest-cg-${process.pid}`;
  let store: RedisStore;
  beforeAll(() => {
    store = new RedisStore({ cluster: { nodes: clusterNodes() }, prefix, partitions: 6, checkDurability: false });
  });
  afterAll(async () => {
    const cluster = store.client as Cluster;
    for (const node of cluster.nodes("master")) {
      for await (const keys of node.scanStream({ match: `${prefix}:*`, count: 1000 })) {
        for (const key of keys as string[]) await node.unlink(key);
      }
    }
    await store?.close();
  });

  const partitionOf = (id: string) => Number(id.split("-")[0]);

  it("keeps every job of a group in the group's one partition, keyed or not", async () => {
    const queue = "homes";
    const added = await store.add(
      Array.from({ length: 60 }, (_, i) => job(queue, { group: `g${i % 12}`, key: i % 2 === 0 ? `key-${i}` : null })),
    );
    const partitions = new Map<string, Set<number>>();
    for (const { job: j } of added) {
      const set = partitions.get(j.group!) ?? new Set();
      set.add(partitionOf(j.id));
      partitions.set(j.group!, set);
    }
    for (const [group, set] of partitions) expect([...set], group).toEqual([store.layout.partitionOfGroup(group)]);
    expect(new Set([...partitions.values()].map((set) => [...set][0])).size).toBeGreaterThan(1);
  });

  it("lets a keyed grouped job meet its key's holder in another group's partition", async () => {
    const queue = "holders";
    // Two groups in different partitions.
    const [a, b] = pickGroupsInDifferentPartitions();
    const [held] = await store.add([job(queue, { group: a, key: "order-1", payload: '"first"' })]);
    const [kept] = await store.add([job(queue, { group: b, key: "order-1", payload: '"second"' })]);
    expect(kept).toMatchObject({ outcome: "existing", job: { id: held!.job.id, group: a } });
    const [replaced] = await store.add([
      job(queue, { group: b, key: "order-1", payload: '"third"', onDuplicate: "replace" }),
    ]);
    expect(replaced).toMatchObject({ outcome: "replaced", job: { id: held!.job.id, group: a, payload: '"third"' } });
    expect((await store.counts(queue)).scheduled).toBe(1);
  });

  it("adds a job in its group's partition when the holder it was sent to has finished", async () => {
    const queue = "moved";
    const [a, b] = pickGroupsInDifferentPartitions();
    const [held] = await store.add([job(queue, { group: a, key: "order-2" })]);
    // The holder is found, then finishes before the add reaches its partition.
    const internals = store as unknown as { keyHoldersElsewhere(jobs: NewJob[]): Promise<Map<number, number>> };
    const lookup = internals.keyHoldersElsewhere.bind(store);
    internals.keyHoldersElsewhere = async (jobs) => {
      const found = await lookup(jobs);
      await store.cancel(queue, { id: held!.job.id });
      return found;
    };
    try {
      const [added] = await store.add([job(queue, { group: b, key: "order-2" })]);
      expect(added!.outcome).toBe("created");
      expect(partitionOf(added!.job.id)).toBe(store.layout.partitionOfGroup(b));
      expect(added!.job.group).toBe(b);
    } finally {
      internals.keyHoldersElsewhere = lookup;
    }
    expect((await store.getByKey(queue, "order-2"))!.state).toBe("scheduled");
  });

  it("refuses a grouped follow-up job whose group lives in another partition, changing nothing", async () => {
    const queue = "follow";
    const [a, b] = pickGroupsInDifferentPartitions();
    await store.add([job(queue, { group: a })]);
    const [claimed] = (await store.claimDue(queue, { limit: 1, leaseMs: 60_000 })).jobs;
    await expect(
      store.complete(queue, claimed!.id, claimed!.leaseToken!, { result: null, enqueue: [job(queue, { group: b })] }),
    ).rejects.toMatchObject({ code: "INVALID_OPTION" });
    expect((await store.get(queue, claimed!.id))!.state).toBe("active");
    // Beside it, in its own group: kept.
    await store.complete(queue, claimed!.id, claimed!.leaseToken!, {
      result: null,
      enqueue: [job(queue, { group: a })],
    });
    expect((await store.groupState(queue, a)).scheduled).toBe(1);
  });

  it("gives tokens back never above the bucket; tokens taken and not given back only delay starts", async () => {
    const queue = "bucket";
    await store.setRateLimit(queue, { rate: 5, perMs: 3_600_000 });
    const take = (
      store as unknown as { take(q: string, op: string, n: number): Promise<[number, number, number]> }
    ).take.bind(store);
    expect((await take(queue, "take", 3))[1]).toBe(3);
    expect((await store.flowSettings(queue)).tokens).toBe(2);
    // A claimer that dies here never gives its 3 back: the bucket holds 2, not more.
    expect((await take(queue, "take", 10))[1]).toBe(2);
    expect((await take(queue, "give", 2))[1]).toBe(2);
    expect((await take(queue, "give", 50))[1]).toBe(50);
    expect((await store.flowSettings(queue)).tokens).toBe(5);
    // A queue without a bucket grants everything and has nothing to give back to.
    expect(await take("unlimited", "take", 7)).toEqual([expect.any(Number), 7, 0, null]);
  });

  it("tells every partition when the queue's bucket comes and goes", async () => {
    const queue = "flags";
    await store.add(Array.from({ length: 12 }, (_, i) => job(queue, { payload: `${i}`, when: { delayMs: 0 } })));
    await store.pauseQueue(queue, { delayMs: 60_000 });
    expect((await store.claimDue(queue, { limit: 20, leaseMs: 60_000 })).jobs).toHaveLength(0);
    await store.pauseQueue(queue, null);
    const cluster = store.client as Cluster;
    const flags = await Promise.all(
      Array.from({ length: 6 }, (_, p) => cluster.get(`${store.layout.base(queue, p)}:lf`)),
    );
    expect(flags.every((flag) => flag?.endsWith(":0"))).toBe(true);
    expect((await store.claimDue(queue, { limit: 20, leaseMs: 60_000 })).jobs).toHaveLength(12);
  });

  function pickGroupsInDifferentPartitions(): [string, string] {
    const first = `grp-${Math.random().toString(36).slice(2)}`;
    for (let i = 0; ; i++) {
      const other = `${first}-${i}`;
      if (store.layout.partitionOfGroup(other) !== store.layout.partitionOfGroup(first)) return [first, other];
    }
  }
});

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
