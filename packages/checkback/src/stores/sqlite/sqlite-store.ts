import { mkdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type Database from "better-sqlite3";
import { CheckbackError, invalidOption, StoreClosedError } from "../../core/errors.js";
import type { JobRecord, JobRef, JobState } from "../../core/job.js";
import { rejectUnknown } from "../../core/options.js";
import type { GroupLimits, GroupState } from "../../flow/groups.js";
import type { FlowSettings, RateLimit } from "../../flow/rate-limit.js";
import { loadBetterSqlite3 } from "../drivers.js";
import { checkFollowUps } from "../follow-ups.js";
import type {
  AddOutcome,
  ChangeOutcome,
  ClaimOptions,
  ClaimResult,
  Completion,
  Failure,
  FinishedState,
  NewJob,
  Page,
  PageRequest,
  Release,
  Retention,
  Selection,
  Store,
  When,
} from "../store.js";
import { Checkpointer } from "./checkpointer.js";
import { SqliteContext } from "./context.js";
import { addJobs } from "./ops/add-jobs.js";
import { cancelJob } from "./ops/cancel-job.js";
import { claimDue, headDueAt } from "./ops/claim-due.js";
import { completeJob } from "./ops/complete-job.js";
import { countJobs, listQueues } from "./ops/counts.js";
import { extendLease } from "./ops/extend-lease.js";
import { failJob } from "./ops/fail-job.js";
import { pauseQueue, readFlowSettings, setRateLimit } from "./ops/flow.js";
import { findById, findByKey } from "./ops/get-job.js";
import { busiestGroups, pauseGroup, readGroupState, setGroupLimits } from "./ops/group-flow.js";
import { listJobs } from "./ops/list-jobs.js";
import { purge } from "./ops/purge.js";
import { redrive } from "./ops/redrive.js";
import { releaseJob } from "./ops/release-job.js";
import { rescheduleJob } from "./ops/reschedule-job.js";
import { settleJob } from "./ops/settle-job.js";
import { trim } from "./ops/trim.js";
import { toRecord } from "./rows.js";
import { migrate } from "./schema.js";
import { WakeHub } from "./wake.js";

export interface SqliteStoreOptions {
  /** Database file; created with its parent directories on first use. ":memory:" for a private in-memory database. */
  path: string;
  /** The store's clock (default Date.now): every instant the store writes comes from it. */
  clock?: () => number;
  /**
   * "normal" (default): a commit is durable once the OS has it — it survives the process
   * crashing or being killed, but a power loss or kernel crash may lose the last commits
   * (never corrupt the file). "full": every commit is fsynced before it returns, surviving
   * power loss at the cost of one fsync per write.
   */
  synchronous?: "normal" | "full";
  /** How long a write waits for another connection's write lock before failing (default 5000 ms). */
  busyTimeoutMs?: number;
}

const OPTION_NAMES = new Set(["path", "clock", "synchronous", "busyTimeoutMs"]);
/** The most groups busiestGroups answers (Store.busiestGroups). */
const MAX_BUSIEST_GROUPS = 1_000;
const DEFAULT_BUSY_TIMEOUT_MS = 5_000;
/**
 * Page cache per connection, in KiB (SQLite's negative cache_size). What a claim, a completion
 * and an add touch is a few hot pages at the ends of the indexes (the earliest due entries,
 * the newest rows), so a small cache keeps the near-due path hot even beside a million
 * far-future jobs; pages it drops are still in the OS page cache. 64 MiB bought nothing
 * measurable there and cost 57 MB of RSS with 1M pending jobs.
 */
const CACHE_KIB = 16 * 1024;
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;
/** Pages copied per backup step (16 MiB at 4 KiB pages); between steps the event loop runs. */
const BACKUP_STEP_PAGES = 4096;
/** The most pages better-sqlite3 takes for one step: the rest of the file. */
const ALL_REMAINING_PAGES = 0x7fffffff;

/** How far a backup has got: SQLite pages in the database and pages still to copy. */
export interface BackupProgress {
  totalPages: number;
  remainingPages: number;
}

/**
 * The embedded default store: one SQLite file in WAL mode through better-sqlite3.
 *
 * Every operation is one small module under ./ops. Calls are queued and run together at the end
 * of the event-loop turn in one IMMEDIATE transaction (group commit, see context.ts): each call
 * stays atomic on its own and settles only once committed, while a worker finishing fifty jobs
 * pays for one commit instead of fifty. Several connections — workers in other processes on the
 * same file — share the database safely: SQLite admits one writer at a time, and every write
 * takes the lock before it reads. better-sqlite3 is synchronous: a batch holds the event loop
 * for its few microseconds per job, far cheaper than a thread hop per call at these sizes.
 *
 * The file is opened on first use, not at construction, so creating an instance (for example
 * the default store of a checkback instance) touches no disk until it is used.
 */
export class SqliteStore implements Store {
  readonly kind = "sqlite";
  readonly path: string;
  private readonly clock: () => number;
  private readonly synchronous: "normal" | "full";
  private readonly busyTimeoutMs: number;
  private readonly hub: WakeHub;
  private ctx: SqliteContext | null = null;
  private checkpointer: Checkpointer | null = null;
  private closed = false;

  constructor(options: SqliteStoreOptions) {
    if (typeof options !== "object" || options === null) throw invalidOption("SqliteStore needs { path }");
    rejectUnknown(options, OPTION_NAMES, "sqlite store");
    const { path, clock = Date.now, synchronous = "normal", busyTimeoutMs = DEFAULT_BUSY_TIMEOUT_MS } = options;
    if (typeof path !== "string" || path.trim() === "") {
      throw invalidOption("the sqlite store needs a file path", { path });
    }
    if (typeof clock !== "function") throw invalidOption("clock must be a function returning epoch ms");
    if (synchronous !== "normal" && synchronous !== "full") {
      throw invalidOption('synchronous must be "normal" or "full"', { synchronous });
    }
    if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
      throw invalidOption("busyTimeoutMs must be an integer ≥ 0", { busyTimeoutMs });
    }
    this.path = path === ":memory:" ? path : resolve(path);
    if (this.path !== ":memory:") rejectDirectory(this.path);
    this.clock = clock;
    this.synchronous = synchronous;
    this.busyTimeoutMs = busyTimeoutMs;
    this.hub = new WakeHub(this.path === ":memory:" ? null : this.path);
  }

  async now(): Promise<number> {
    if (this.closed) throw new StoreClosedError("sqlite");
    return this.clock();
  }

  async add(jobs: NewJob[]): Promise<AddOutcome[]> {
    const ctx = this.open();
    return ctx.write(() => addJobs(ctx, jobs, this.clock()));
  }

  async get(queue: string, id: string): Promise<JobRecord | null> {
    const ctx = this.open();
    return ctx.read(() => {
      const row = findById(ctx, queue, id);
      return row ? toRecord(row) : null;
    });
  }

  async getByKey(queue: string, key: string): Promise<JobRecord | null> {
    const ctx = this.open();
    return ctx.read(() => {
      const row = findByKey(ctx, queue, key);
      return row ? toRecord(row) : null;
    });
  }

  async cancel(queue: string, ref: JobRef): Promise<ChangeOutcome> {
    const ctx = this.open();
    return ctx.writeOne(() => cancelJob(ctx, queue, ref, this.clock()));
  }

  async reschedule(queue: string, ref: JobRef, when: When): Promise<ChangeOutcome> {
    const ctx = this.open();
    return ctx.writeOne(() => rescheduleJob(ctx, queue, ref, when, this.clock()));
  }

  async claimDue(queue: string, options: ClaimOptions): Promise<ClaimResult> {
    const ctx = this.open();
    return ctx.write(() => claimDue(ctx, queue, options, this.clock()));
  }

  async setRateLimit(queue: string, limit: RateLimit | null): Promise<void> {
    const ctx = this.open();
    return ctx.writeOne(() => setRateLimit(ctx, queue, limit, this.clock()));
  }

  async pauseQueue(queue: string, until: When | null): Promise<void> {
    const ctx = this.open();
    return ctx.writeOne(() => pauseQueue(ctx, queue, until, this.clock()));
  }

  async flowSettings(queue: string): Promise<FlowSettings> {
    const ctx = this.open();
    return ctx.read(() => readFlowSettings(ctx, queue, this.clock()));
  }

  async setGroupLimits(queue: string, group: string | null, limits: GroupLimits | null): Promise<void> {
    const ctx = this.open();
    return ctx.write(() => setGroupLimits(ctx, queue, group, limits, this.clock()));
  }

  async pauseGroup(queue: string, group: string, until: When | null): Promise<void> {
    const ctx = this.open();
    return ctx.write(() => pauseGroup(ctx, queue, group, until, this.clock()));
  }

  async groupState(queue: string, group: string): Promise<GroupState> {
    const ctx = this.open();
    return ctx.read(() => readGroupState(ctx, queue, group, this.clock()));
  }

  async busiestGroups(queue: string, limit: number): Promise<{ groups: GroupState[]; activeGroups: number }> {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_BUSIEST_GROUPS) {
      throw invalidOption(`limit must be an integer from 1 to ${MAX_BUSIEST_GROUPS}`, { field: "limit", value: limit });
    }
    const ctx = this.open();
    return ctx.read(() => busiestGroups(ctx, queue, limit, this.clock()));
  }

  async extendLease(queue: string, id: string, leaseToken: string, leaseMs: number): Promise<number> {
    const ctx = this.open();
    return ctx.writeOne(() => extendLease(ctx, queue, id, leaseToken, leaseMs, this.clock()));
  }

  async complete(queue: string, id: string, leaseToken: string, completion: Completion): Promise<void> {
    checkFollowUps(queue, completion);
    const ctx = this.open();
    const run = () => completeJob(ctx, queue, id, leaseToken, completion, this.clock());
    return completion.enqueue?.length ? ctx.write(run) : ctx.writeOne(run);
  }

  async settle(queue: string, ref: JobRef, completion: Completion): Promise<ChangeOutcome> {
    checkFollowUps(queue, completion);
    const ctx = this.open();
    return ctx.write(() => settleJob(ctx, queue, ref, completion, this.clock()));
  }

  async fail(queue: string, id: string, leaseToken: string, failure: Failure): Promise<JobRecord> {
    const ctx = this.open();
    return ctx.writeOne(() => failJob(ctx, queue, id, leaseToken, failure, this.clock()));
  }

  async release(queue: string, id: string, leaseToken: string, release: Release): Promise<void> {
    const ctx = this.open();
    return ctx.writeOne(() => releaseJob(ctx, queue, id, leaseToken, release, this.clock()));
  }

  async list(queue: string, state: JobState, page: PageRequest): Promise<Page> {
    const ctx = this.open();
    return ctx.read(() => listJobs(ctx, queue, state, page));
  }

  async counts(queue: string): Promise<Record<JobState, number>> {
    const ctx = this.open();
    return ctx.read(() => countJobs(ctx, queue));
  }

  async queues(): Promise<string[]> {
    const ctx = this.open();
    return ctx.read(() => listQueues(ctx));
  }

  async redrive(queue: string, selection: Selection, when: When): Promise<number> {
    const ctx = this.open();
    return ctx.write(() => redrive(ctx, queue, selection, when, this.clock()));
  }

  async purge(queue: string, state: FinishedState, selection: Selection): Promise<number> {
    const ctx = this.open();
    return ctx.write(() => purge(ctx, queue, state, selection));
  }

  async trim(queue: string, retention: Retention): Promise<number> {
    const ctx = this.open();
    return ctx.write(() => trim(ctx, queue, retention, this.clock()));
  }

  subscribe(queue: string, wake: (runAt: number) => void): () => void {
    const unsubscribe = this.hub.subscribe(queue, wake);
    if (!this.closed && !this.ctx) {
      // Watching other processes needs the connection. If it cannot open, the worker's next
      // claim reports why; the subscription still works for this process's writes.
      try {
        this.open();
      } catch {}
    }
    return unsubscribe;
  }

  /**
   * Copies the database to `destination` (a new file) with SQLite's online backup, while the
   * store keeps serving: the copy holds every call made before backup() and is a consistent
   * database of its own, with nothing left in a -wal file.
   *
   * It copies in steps so a large file reports progress and leaves the event loop free. A
   * write from another connection (another process on the file) makes SQLite start the copy
   * over; after one restart the rest is copied in a single step under one read snapshot (WAL
   * readers do not block writers), so a busy producer elsewhere cannot keep it from finishing.
   */
  async backup(
    destination: string,
    options: { onProgress?: (progress: BackupProgress) => void } = {},
  ): Promise<BackupProgress> {
    if (this.path === ":memory:") throw invalidOption("an in-memory sqlite store has no file to back up");
    const ctx = this.open();
    // Calls made before backup() are committed first, so the copy holds them.
    await ctx.read(() => undefined);
    return copyDatabase(ctx.db, destination, options.onProgress);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.hub.close();
    const { ctx, checkpointer } = this;
    this.ctx = null;
    this.checkpointer = null;
    // Whatever was called before close() still runs and commits.
    ctx?.flush();
    // The checkpointer's connection goes first, so that closing the last one checkpoints and
    // removes the WAL as SQLite does for a cleanly closed database.
    await checkpointer?.stop();
    ctx?.db.close();
  }

  /** The open connection, opening (and creating, and migrating) the file on first use. */
  private open(): SqliteContext {
    if (this.ctx) return this.ctx;
    if (this.closed) throw new StoreClosedError("sqlite");
    const db = this.connect();
    const ctx = new SqliteContext(db, (queue, runAt) => this.hub.announce(queue, runAt));
    this.ctx = ctx;
    this.checkpointer = this.startCheckpointer(db);
    this.hub.watchOthers({
      dataVersion: () => db.pragma("data_version", { simple: true }) as number,
      headDueAt: (queue) => headDueAt(ctx, queue),
    });
    return ctx;
  }

  /** WAL checkpoints on their own thread (checkpointer.ts); without one, SQLite's automatic ones stay on. */
  private startCheckpointer(db: Database.Database): Checkpointer | null {
    if (this.path === ":memory:") return null;
    try {
      return new Checkpointer(db, this.path, this.synchronous === "full" ? "FULL" : "NORMAL");
    } catch {
      return null;
    }
  }

  private connect(): Database.Database {
    let db: Database.Database | undefined;
    try {
      if (this.path !== ":memory:") {
        rejectDirectory(this.path);
        mkdirSync(dirname(this.path), { recursive: true });
      }
      const Driver = loadBetterSqlite3();
      db = new Driver(this.path);
      db.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
      db.pragma("journal_mode = WAL");
      db.pragma(`synchronous = ${this.synchronous === "full" ? "FULL" : "NORMAL"}`);
      db.pragma(`cache_size = -${CACHE_KIB}`);
      db.pragma("temp_store = MEMORY");
      // After a burst the WAL is cut back to this size at the next checkpoint instead of keeping its peak.
      db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
      migrate(db);
      return db;
    } catch (error) {
      db?.close();
      if (error instanceof CheckbackError) throw error;
      throw new Error(`cannot open the SQLite database at ${this.path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
}

function rejectDirectory(path: string): void {
  let isDirectory = false;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch {
    return; // does not exist yet: created on first use
  }
  if (isDirectory) throw invalidOption(`the sqlite store path ${path} is a directory, not a database file`, { path });
}

/**
 * Backs up the SQLite store file at `source` (in use or not, by this process or others) to
 * `destination`, as SqliteStore#backup does, without opening it as a store: nothing is migrated
 * or created and no write lock is taken, so a busy writer elsewhere cannot hold it off.
 */
export async function backupSqliteFile(
  source: string,
  destination: string,
  options: { onProgress?: (progress: BackupProgress) => void; busyTimeoutMs?: number } = {},
): Promise<BackupProgress> {
  const Driver = loadBetterSqlite3();
  let db: Database.Database;
  try {
    db = new Driver(source, { fileMustExist: true });
  } catch (error) {
    throw new Error(`cannot open the SQLite database at ${source}: ${(error as Error).message}`, { cause: error });
  }
  try {
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS}`);
    return await copyDatabase(db, destination, options.onProgress);
  } finally {
    db.close();
  }
}

/**
 * SQLite's online backup in steps, so a large file reports progress and leaves the event loop
 * free. A write from another connection makes SQLite start the copy over; after one restart the
 * rest is copied in a single step under one read snapshot (WAL readers do not block writers), so
 * a busy producer elsewhere cannot keep it from finishing.
 */
async function copyDatabase(
  db: Database.Database,
  destination: string,
  onProgress: ((progress: BackupProgress) => void) | undefined,
): Promise<BackupProgress> {
  let stepPages = BACKUP_STEP_PAGES;
  let lastRemaining = Number.POSITIVE_INFINITY;
  const done = await db.backup(destination, {
    progress: (progress) => {
      // Remaining pages shrink at every step unless SQLite started the copy over.
      if (progress.remainingPages >= lastRemaining) stepPages = ALL_REMAINING_PAGES;
      lastRemaining = progress.remainingPages;
      onProgress?.(progress);
      return stepPages;
    },
  });
  const finished = { totalPages: done.totalPages, remainingPages: 0 };
  onProgress?.(finished);
  return finished;
}
