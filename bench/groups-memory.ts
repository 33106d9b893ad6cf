/**
 * Groups on the memory store, apart from the full benchmark (bench/run.ts):
 *   node --expose-gc --import tsx bench/groups-memory.ts [jobs=200000]
 *
 * For each shape, `jobs` due jobs are added in batches of 1000, then claimed 100 at a time and
 * completed, on a fresh store: claim+complete rate and CPU per job. Shapes: no group; one group;
 * 1,000 groups; one group per job; 1,000 groups under a default concurrency of 2 and a
 * 1,000,000-per-second rate per group (so every group is charged a bucket and held by its
 * concurrency between claims). Last, one more one-group-per-job run on a store that is kept:
 * the heap once its jobs are finished and purged against the heap before it started (every
 * group forgotten).
 */
import { MemoryStore } from "../packages/checkback/src/stores/memory/memory-store.js";
import type { NewJob } from "../packages/checkback/src/stores/store.js";
import { GROUP_SHAPES, GROUPS_QUEUE, type GroupShape, groupedJob } from "./groups/shapes.js";

const jobs = Number(process.argv[2] ?? 200_000);
const QUEUE = GROUPS_QUEUE;

const cpuMs = (from: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1000;
};

const heapMb = () => {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 1e6;
};

async function run(shape: GroupShape): Promise<MemoryStore> {
  const store = new MemoryStore();
  await shape.setup?.(store);
  for (let i = 0; i < jobs; i += 1000) {
    const batch: NewJob[] = [];
    for (let n = i; n < Math.min(jobs, i + 1000); n++) batch.push(groupedJob(shape.group(n)));
    await store.add(batch);
  }
  const cpu = process.cpuUsage();
  const started = performance.now();
  let done = 0;
  while (done < jobs) {
    const { jobs: claimed } = await store.claimDue(QUEUE, { limit: 100, leaseMs: 60_000 });
    if (claimed.length === 0) throw new Error(`${shape.name}: nothing claimed with ${jobs - done} left`);
    for (const job of claimed) await store.complete(QUEUE, job.id, job.leaseToken!, { result: null });
    done += claimed.length;
  }
  const ms = performance.now() - started;
  const perSecond = Math.round((jobs / ms) * 1000).toLocaleString("en");
  console.log(
    `${shape.name.padEnd(36)} ${perSecond.padStart(9)} claimed+completed/s  ${((cpuMs(cpu) * 1000) / jobs).toFixed(2)} µs CPU/job`,
  );
  return store;
}

for (const shape of GROUP_SHAPES) await (await run(shape)).close();

// One more one-group-per-job run, kept: finished jobs stay until purged (retention is the
// worker's trim); once they are, what is left is what the groups left behind.
const before = heapMb();
const kept = await run(GROUP_SHAPES.find((shape) => shape.name === "one group per job")!);
await kept.purge(QUEUE, "completed", { all: true });
const { activeGroups } = await kept.busiestGroups(QUEUE, 10);
console.log(
  `${jobs.toLocaleString("en")} one-job groups finished and purged: heap ${(heapMb() - before).toFixed(1)} MB ` +
    `above the store's start, ${activeGroups} active groups`,
);
