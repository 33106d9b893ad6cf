/**
 * A quick throughput run of the PostgreSQL store, apart from the full benchmark (bench/run.ts):
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx tsx bench/postgres-throughput.ts [jobs=50000] [concurrency=50]
 *
 * Adds `jobs` due now in batches of 1000 (addBulk), then drains them with one Worker at
 * `concurrency` and a no-op handler, and reports jobs per second of each phase, wall clock and
 * per CPU-second of this process (on a shared machine the latter is the steadier figure; the
 * database server's own CPU is not in it). Runs in a fresh schema, dropped at the end.
 */
import { loadavg } from "node:os";
import pg from "pg";
import { Checkback } from "../packages/checkback/src/checkback.js";
import { PostgresStore } from "../packages/checkback/src/stores/postgres/postgres-store.js";

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const jobs = Number(process.argv[2] ?? 50_000);
const concurrency = Number(process.argv[3] ?? 50);
const schema = `cbbench_${process.pid}`;
const BATCH = 1000;

const rate = (n: number, ms: number) => `${Math.round((n / ms) * 1000).toLocaleString("en")}/s`;
const cpuMs = (from: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1000;
};

const store = new PostgresStore({ connectionString: url, schema });
const cb = new Checkback({ store });
try {
  const queue = cb.queue("bench");
  await store.now(); // migrations, outside the measurement

  let started = performance.now();
  let cpu = process.cpuUsage();
  for (let done = 0; done < jobs; done += BATCH) {
    await queue.addBulk(Array.from({ length: Math.min(BATCH, jobs - done) }, (_, i) => ({ payload: { n: done + i } })));
  }
  const addMs = performance.now() - started;
  const addCpu = cpuMs(cpu);

  started = performance.now();
  cpu = process.cpuUsage();
  await new Promise<void>((resolve) => {
    let completed = 0;
    const worker = cb.worker("bench", () => undefined, { concurrency });
    worker.on("completed", () => {
      if (++completed === jobs) resolve();
    });
  });
  const drainMs = performance.now() - started;
  const drainCpu = cpuMs(cpu);

  console.log(`postgres store, ${jobs} jobs, load average ${loadavg()[0]!.toFixed(1)}`);
  console.log(`  add (addBulk of ${BATCH}): ${rate(jobs, addMs)} wall, ${rate(jobs, addCpu)} per CPU-second`);
  console.log(
    `  drain (worker, concurrency ${concurrency}, no-op handler): ${rate(jobs, drainMs)} wall, ` +
      `${rate(jobs, drainCpu)} per CPU-second`,
  );
} finally {
  await cb.close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
}
