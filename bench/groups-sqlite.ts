/**
 * Groups on the SQLite store, apart from the full benchmark (bench/run.ts); the same GROUP_SHAPES as
 * bench/groups-memory.ts:
 *   npx tsx bench/groups-sqlite.ts [jobs=100000]
 *
 * For each shape, `jobs` due jobs are added in batches of 1000 to a fresh file, then claimed
 * 100 at a time and completed (the completions of one claim in one turn of the event loop, so
 * they share a commit, as a worker's do): add rate, claim+complete rate and CPU per job. Shapes:
 * no group; one group; 1,000 groups; one group per job; 1,000 groups under a default
 * concurrency of 2 and a 1,000,000-per-second rate per group (every group is charged a bucket
 * and held by its concurrency between claims). Each run ends by counting the group rows left.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { SqliteStore } from "../packages/checkback/src/stores/sqlite/sqlite-store.js";
import type { NewJob } from "../packages/checkback/src/stores/store.js";
import { GROUP_SHAPES, GROUPS_QUEUE, type GroupShape, groupedJob } from "./groups/shapes.js";

const jobs = Number(process.argv[2] ?? 100_000);
const QUEUE = GROUPS_QUEUE;
const dir = mkdtempSync(join(tmpdir(), "checkback-groups-sqlite-"));
let files = 0;

const cpuMs = (from: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1000;
};

const rate = (n: number, ms: number) => Math.round((n / ms) * 1000).toLocaleString("en");

async function run(shape: GroupShape): Promise<void> {
  const path = join(dir, `groups-${++files}.db`);
  const store = new SqliteStore({ path });
  await shape.setup?.(store);
  const addStarted = performance.now();
  for (let i = 0; i < jobs; i += 1000) {
    const batch: NewJob[] = [];
    for (let n = i; n < Math.min(jobs, i + 1000); n++) batch.push(groupedJob(shape.group(n)));
    await store.add(batch);
  }
  const addMs = performance.now() - addStarted;
  const cpu = process.cpuUsage();
  const started = performance.now();
  let done = 0;
  while (done < jobs) {
    const { jobs: claimed } = await store.claimDue(QUEUE, { limit: 100, leaseMs: 60_000 });
    if (claimed.length === 0) throw new Error(`${shape.name}: nothing claimed with ${jobs - done} left`);
    await Promise.all(claimed.map((job) => store.complete(QUEUE, job.id, job.leaseToken!, { result: null })));
    done += claimed.length;
  }
  const ms = performance.now() - started;
  const cpuPerJob = (cpuMs(cpu) * 1000) / jobs;
  await store.close();
  const db = new Database(path, { readonly: true });
  const { n } = db.prepare("SELECT count(*) AS n FROM job_groups").get() as { n: number };
  db.close();
  console.log(
    `${shape.name.padEnd(36)} add ${rate(jobs, addMs).padStart(8)}/s  claim+complete ${rate(jobs, ms).padStart(7)}/s  ` +
      `${cpuPerJob.toFixed(1)} µs CPU/job  group rows left ${n}`,
  );
}

try {
  for (const shape of GROUP_SHAPES) await run(shape);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
