/**
 * Groups on the SQLite store, apart from the full benchmark (bench/run.ts); the same shapes as
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
import { DEFAULT_BACKOFF } from "../packages/checkback/src/core/backoff.js";
import { SqliteStore } from "../packages/checkback/src/stores/sqlite/sqlite-store.js";
import type { NewJob } from "../packages/checkback/src/stores/store.js";

const jobs = Number(process.argv[2] ?? 100_000);
const QUEUE = "groups";
const dir = mkdtempSync(join(tmpdir(), "checkback-groups-sqlite-"));
let files = 0;

const newJob = (group: string | null): NewJob => ({
  queue: QUEUE,
  key: null,
  payload: "{}",
  when: { delayMs: 0 },
  maxAttempts: 3,
  backoff: DEFAULT_BACKOFF,
  onDuplicate: "keep",
  group,
});

const cpuMs = (from: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1000;
};

const rate = (n: number, ms: number) => Math.round((n / ms) * 1000).toLocaleString("en");

interface Shape {
  name: string;
  group: (n: number) => string | null;
  setup?: (store: SqliteStore) => Promise<void>;
}

const shapes: Shape[] = [
  { name: "no group", group: () => null },
  { name: "one group", group: () => "g" },
  { name: "1,000 groups", group: (n) => `g${n % 1000}` },
  { name: "one group per job", group: (n) => `g${n}` },
  {
    name: "1,000 groups, concurrency 2 + rate",
    group: (n) => `g${n % 1000}`,
    setup: (store) => store.setGroupLimits(QUEUE, null, { concurrency: 2, limit: { rate: 1_000_000, perMs: 1000 } }),
  },
];

async function run(shape: Shape): Promise<void> {
  const path = join(dir, `groups-${++files}.db`);
  const store = new SqliteStore({ path });
  await shape.setup?.(store);
  const addStarted = performance.now();
  for (let i = 0; i < jobs; i += 1000) {
    const batch: NewJob[] = [];
    for (let n = i; n < Math.min(jobs, i + 1000); n++) batch.push(newJob(shape.group(n)));
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
  for (const shape of shapes) await run(shape);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
