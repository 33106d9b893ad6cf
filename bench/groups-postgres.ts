/**
 * Groups on the PostgreSQL store, apart from the full benchmark (bench/run.ts):
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx tsx bench/groups-postgres.ts [jobs=20000]
 *
 * The GROUP_SHAPES of bench/groups-memory.ts: for each, `jobs` due jobs are added in batches of 1000
 * on a fresh schema, then claimed 100 at a time and completed (one completion statement per
 * claim, as a worker's completions share one), on one connection. Reported per shape: add and
 * claim+complete rates, and CPU per job of this process and of the PostgreSQL backend serving
 * it (from /proc/<pid>/stat: the database's own work, which is where groups cost), and how many
 * group rows are left once every job finished (none is the rule). Shapes: no group; one group;
 * 1,000 groups; one group per job; 1,000 groups under a default concurrency of 2 and a
 * 1,000,000-per-second rate per group (every group charged a bucket and held by its concurrency
 * between claims).
 */
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import pg from "pg";
import { PostgresStore } from "../packages/checkback/src/stores/postgres/postgres-store.js";
import type { NewJob } from "../packages/checkback/src/stores/store.js";
import { GROUP_SHAPES, GROUPS_QUEUE, type GroupShape, groupedJob } from "./groups/shapes.js";

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const jobs = Number(process.argv[2] ?? 20_000);
const QUEUE = GROUPS_QUEUE;

/** CPU seconds (user + system) of a process of this host so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const rate = (n: number, ms: number) => Math.round((n / ms) * 1000).toLocaleString("en");
const perJob = (seconds: number) => ((seconds * 1e6) / jobs).toFixed(1);

async function run(shape: GroupShape): Promise<void> {
  const schema = `cbgroups_bench_${process.pid}`;
  // One connection: its backend's CPU is the database's work for this run.
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const store = new PostgresStore({ pool, schema });
  try {
    await shape.setup?.(store);
    await store.now();
    const { rows } = await pool.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
    const backend = rows[0]!.pid;

    let server = cpuSeconds(backend);
    let client = process.cpuUsage();
    let started = performance.now();
    for (let i = 0; i < jobs; i += 1000) {
      const batch: NewJob[] = [];
      for (let n = i; n < Math.min(jobs, i + 1000); n++) batch.push(groupedJob(shape.group(n)));
      await store.add(batch);
    }
    const add = {
      ms: performance.now() - started,
      server: cpuSeconds(backend) - server,
      client: process.cpuUsage(client),
    };

    server = cpuSeconds(backend);
    client = process.cpuUsage();
    started = performance.now();
    let done = 0;
    while (done < jobs) {
      const { jobs: claimed } = await store.claimDue(QUEUE, { limit: 100, leaseMs: 60_000 });
      if (claimed.length === 0) throw new Error(`${shape.name}: nothing claimed with ${jobs - done} left`);
      await Promise.all(claimed.map((job) => store.complete(QUEUE, job.id, job.leaseToken!, { result: null })));
      done += claimed.length;
    }
    const drain = {
      ms: performance.now() - started,
      server: cpuSeconds(backend) - server,
      client: process.cpuUsage(client),
    };
    const left = await pool.query<{ n: number }>(`SELECT count(*)::integer AS n FROM "${schema}".job_groups`);
    console.log(
      `${shape.name.padEnd(36)} add ${rate(jobs, add.ms).padStart(7)}/s (server ${perJob(add.server)} µs/job)  ` +
        `claim+complete ${rate(jobs, drain.ms).padStart(6)}/s (server ${perJob(drain.server)} µs/job, ` +
        `client ${perJob((drain.client.user + drain.client.system) / 1e6)} µs/job)  group rows left ${left.rows[0]!.n}`,
    );
  } finally {
    await store.close();
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  }
}

console.log(`postgres store, ${jobs.toLocaleString("en")} jobs per shape, load average ${loadavg()[0]!.toFixed(1)}`);
for (const shape of GROUP_SHAPES) await run(shape);
