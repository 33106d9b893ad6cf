import PgBoss from "pg-boss";
import { BackendCpu, dropSchema, schemaBytes } from "../lib/postgres-info.js";
import { BENCH_DATABASE_URL } from "../postgres/store.js";
import { PGBOSS_POLLING_INTERVAL_SECONDS } from "../systems.js";
import { type BenchQueue, type BenchSystem, payloadOf, type WorkerHooks } from "./system.js";

/**
 * pg-boss 10 on DATABASE_URL (default the local test database), set up as someone who wants it
 * fast would, from its types and source:
 *
 * - A schema of its own per benchmark process (`pgboss_bench_<pid>`), created by `start()` and
 *   dropped when the system closes; its connections carry an application_name of their own, so
 *   the server CPU they cost can be read. Pool size, maintenance (every 120 s) and retention stay
 *   at the defaults; `schedule: false` because no benchmark uses cron, and it would add a second
 *   polling worker (the cron queue's) and a clock-skew query every minute.
 * - `createQueue()` per queue (required in v10: each queue is a partition of the job table).
 * - Bulk adds with `insert()` (one INSERT … SELECT FROM json_to_recordset per call), single adds
 *   with `send()`; both with `startAfter` as a Date (an exact instant on this host's clock; a
 *   number would be seconds after the server's now()).
 * - One `work()` per queue with `batchSize` = the scenario's concurrency, the lowest
 *   `pollingIntervalSeconds` it accepts (0.5) and `includeMetadata: true`, so the handler gets
 *   each job's `startAfter` for its lateness. pg-boss's worker fetches a batch, runs the handler
 *   on it, and then waits out the rest of the polling interval before it fetches again, full
 *   batch or not: one worker therefore fires at most batchSize jobs per 0.5 s (100 jobs/s at
 *   concurrency 50), and splitting the same concurrency over more work() calls keeps that cap.
 *   With `refetchWhenFull` (the default here) the handler calls `notifyWorker()` when its batch
 *   came back full, pg-boss's public way to skip the wait for the next cycle, so a backlog is
 *   fetched back to back and only an empty or partial fetch waits out the interval. Without it
 *   (`--no-pgboss-refetch`) the worker polls as pg-boss does by default.
 *
 * Lateness is handler start minus `startAfter`, on this host's clock: the handler receives the
 * whole batch at once, so every job of a batch starts at the same instant.
 *
 * The completion hook is approximate: pg-boss completes a batch (one UPDATE) after the handler
 * returns, without awaiting it and without an event, so `onDone` is called as the handler
 * returns, one completion round trip before the batch is recorded completed. A drain's end is
 * therefore early by that one UPDATE of the last batch.
 */
export interface PgBossOptions {
  /** Fetch again at once when a batch came back full (notifyWorker) instead of waiting out the polling interval. */
  refetchWhenFull: boolean;
}

export async function openPgBoss(
  { refetchWhenFull }: PgBossOptions,
  databaseUrl = BENCH_DATABASE_URL,
): Promise<BenchSystem> {
  const schema = `pgboss_bench_${process.pid}`;
  const applicationName = `pgboss-bench-${process.pid}`;
  const boss = new PgBoss({
    connectionString: databaseUrl,
    schema,
    application_name: applicationName,
    schedule: false,
  });
  boss.on("error", (error) => process.stderr.write(`pg-boss error: ${error.message}\n`));
  await boss.start();
  const backends = new BackendCpu(databaseUrl, applicationName);
  return {
    label: refetchWhenFull ? "pg-boss" : "pg-boss (polling only)",
    openQueue: async (name) => {
      await boss.createQueue(name);
      return new PgBossQueue(boss, name, refetchWhenFull);
    },
    footprint: async () => ({
      dbFileBytes: await schemaBytes(databaseUrl, schema),
      postgresCpuSeconds: await backends.read(),
    }),
    close: async () => {
      await boss.stop({ graceful: true, timeout: 5_000 });
      await dropSchema(databaseUrl, schema);
    },
  };
}

type Data = { n: number };

class PgBossQueue implements BenchQueue {
  private added = 0;
  private workerId: string | undefined;

  constructor(
    private readonly boss: PgBoss,
    private readonly name: string,
    private readonly refetchWhenFull: boolean,
  ) {}

  async addBulk(delaysMs: number[]): Promise<void> {
    const now = Date.now();
    await this.boss.insert(
      delaysMs.map((delay) => ({ name: this.name, data: payloadOf(this.added++), startAfter: new Date(now + delay) })),
    );
  }

  async add(delayMs: number): Promise<void> {
    await this.boss.send(this.name, payloadOf(this.added++), { startAfter: new Date(Date.now() + delayMs) });
  }

  async startWorker({ concurrency, onStart, onDone }: WorkerHooks): Promise<void> {
    const options = { batchSize: concurrency, pollingIntervalSeconds: PGBOSS_POLLING_INTERVAL_SECONDS };
    this.workerId = await this.boss.work<Data>(this.name, { ...options, includeMetadata: true }, async (jobs) => {
      const startedAt = Date.now();
      for (const job of jobs) onStart(startedAt - job.startAfter.getTime());
      // The first fetch starts inside work(), but its handler runs only after the fetch's round
      // trip, by when work() has returned the worker's id.
      if (this.refetchWhenFull && jobs.length === concurrency && this.workerId) this.boss.notifyWorker(this.workerId);
      for (let i = 0; i < jobs.length; i++) onDone();
    });
  }

  /**
   * Stops the worker. The queue's partition goes when the system drops its schema, as the
   * checkback PostgreSQL store's jobs do: pg-boss 10's deleteQueue() fails on a queue that still
   * holds jobs (its queue row is deleted before the partition that references it; timgit/pg-boss#514).
   */
  async close(): Promise<void> {
    await this.boss.offWork(this.name);
  }
}
