import type pg from "pg";
import { invalidOption, StoreClosedError } from "../../core/errors.js";
import type { JobRecord, JobRef, JobState } from "../../core/job.js";
import { rejectUnknown } from "../../core/options.js";
import type { GroupLimits, GroupState } from "../../flow/groups.js";
import type { FlowSettings, RateLimit } from "../../flow/rate-limit.js";
import { loadPg } from "../drivers.js";
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
import { AddBatch } from "./add-batch.js";
import { CompletionBatch } from "./completion-batch.js";
import { DEFAULT_CONNECT_TIMEOUT_MS, describePgError, redactPgUrl, translatePgError } from "./connection.js";
import { type PgContext, type Queryable, run, SchemaSql } from "./context.js";
import { addJobs, addOneByOne } from "./ops/add-jobs.js";
import { cancelJob } from "./ops/cancel-job.js";
import { claimDue } from "./ops/claim-due.js";
import { completeJob } from "./ops/complete-job.js";
import { countJobs, listQueues } from "./ops/counts.js";
import { extendLease } from "./ops/extend-lease.js";
import { failJob } from "./ops/fail-job.js";
import { pauseQueue, readFlowSettings, setRateLimit } from "./ops/flow.js";
import { findById, findByKey } from "./ops/get-job.js";
import { busiestGroups, groupState, pauseGroup, setGroupLimits } from "./ops/groups.js";
import { listJobs } from "./ops/list-jobs.js";
import { purge } from "./ops/purge.js";
import { redrive } from "./ops/redrive.js";
import { releaseJob } from "./ops/release-job.js";
import { rescheduleJob } from "./ops/reschedule-job.js";
import { settleJob } from "./ops/settle-job.js";
import { trim } from "./ops/trim.js";
import { toRecord } from "./rows.js";
import { migrate, notifyChannel } from "./schema.js";
import { WakeListener } from "./wake.js";

export interface PostgresStoreOptions {
  /** "postgres://user:password@host:5432/database"; the store opens (and closes) its own pool. */
  connectionString?: string;
  /** Or a pool of your own (closing the store leaves it open); the wake-up connection uses its settings. */
  pool?: pg.Pool;
  /** The schema holding checkback's tables, created on first use (default "checkback"). */
  schema?: string;
}

const OPTION_NAMES = new Set(["connectionString", "pool", "schema"]);
export const DEFAULT_SCHEMA = "checkback";
/** Lower-case identifiers only, short enough that "<schema>_due" is still a valid channel name. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,58}$/;

const NOW = ({ now }: SchemaSql) => `SELECT ${now} AS now`;

/**
 * Every store operation, each one module under ./ops, run against whatever `context()` gives:
 * the store's pool, or a caller's client inside the caller's transaction.
 */
abstract class PostgresOperations implements Store {
  readonly kind = "postgres";

  protected abstract context(): Promise<PgContext>;
  /** Runs a call, turning a lost or refused connection into STORE_UNAVAILABLE (connection.ts). */
  protected abstract guard<T>(call: () => Promise<T>): Promise<T>;
  abstract subscribe(queue: string, wake: (runAt: number) => void): () => void;
  abstract close(): Promise<void>;

  async now(): Promise<number> {
    return this.guard(async () => {
      const ctx = await this.context();
      const [row] = await run<{ now: string }>(ctx.db, ctx.sql, NOW, []);
      return Number(row!.now);
    });
  }

  async add(jobs: NewJob[]): Promise<AddOutcome[]> {
    return this.guard(async () => {
      return addJobs(await this.context(), jobs);
    });
  }

  async get(queue: string, id: string): Promise<JobRecord | null> {
    return this.guard(async () => {
      const ctx = await this.context();
      const row = await findById(ctx.db, ctx.sql, queue, id);
      return row ? toRecord(row) : null;
    });
  }

  async getByKey(queue: string, key: string): Promise<JobRecord | null> {
    return this.guard(async () => {
      const ctx = await this.context();
      const row = await findByKey(ctx.db, ctx.sql, queue, key);
      return row ? toRecord(row) : null;
    });
  }

  async cancel(queue: string, ref: JobRef): Promise<ChangeOutcome> {
    return this.guard(async () => {
      return cancelJob(await this.context(), queue, ref);
    });
  }

  async reschedule(queue: string, ref: JobRef, when: When): Promise<ChangeOutcome> {
    return this.guard(async () => {
      return rescheduleJob(await this.context(), queue, ref, when);
    });
  }

  async claimDue(queue: string, options: ClaimOptions): Promise<ClaimResult> {
    return this.guard(async () => {
      return claimDue(await this.context(), queue, options);
    });
  }

  async setRateLimit(queue: string, limit: RateLimit | null): Promise<void> {
    return this.guard(async () => setRateLimit(await this.context(), queue, limit));
  }

  async pauseQueue(queue: string, until: When | null): Promise<void> {
    return this.guard(async () => pauseQueue(await this.context(), queue, until));
  }

  async flowSettings(queue: string): Promise<FlowSettings> {
    return this.guard(async () => readFlowSettings(await this.context(), queue));
  }

  async setGroupLimits(queue: string, group: string | null, limits: GroupLimits | null): Promise<void> {
    return this.guard(async () => setGroupLimits(await this.context(), queue, group, limits));
  }

  async pauseGroup(queue: string, group: string, until: When | null): Promise<void> {
    return this.guard(async () => pauseGroup(await this.context(), queue, group, until));
  }

  async groupState(queue: string, group: string): Promise<GroupState> {
    return this.guard(async () => groupState(await this.context(), queue, group));
  }

  async busiestGroups(queue: string, limit: number): Promise<{ groups: GroupState[]; activeGroups: number }> {
    return this.guard(async () => busiestGroups(await this.context(), queue, limit));
  }

  async extendLease(queue: string, id: string, leaseToken: string, leaseMs: number): Promise<number> {
    return this.guard(async () => {
      return extendLease(await this.context(), queue, id, leaseToken, leaseMs);
    });
  }

  async complete(queue: string, id: string, leaseToken: string, completion: Completion): Promise<void> {
    return this.guard(async () => {
      checkFollowUps(queue, completion);
      return completeJob(await this.context(), queue, id, leaseToken, completion);
    });
  }

  async settle(queue: string, ref: JobRef, completion: Completion): Promise<ChangeOutcome> {
    return this.guard(async () => {
      checkFollowUps(queue, completion);
      return settleJob(await this.context(), queue, ref, completion);
    });
  }

  async fail(queue: string, id: string, leaseToken: string, failure: Failure): Promise<JobRecord> {
    return this.guard(async () => {
      return failJob(await this.context(), queue, id, leaseToken, failure);
    });
  }

  async release(queue: string, id: string, leaseToken: string, release: Release): Promise<void> {
    return this.guard(async () => {
      return releaseJob(await this.context(), queue, id, leaseToken, release);
    });
  }

  async list(queue: string, state: JobState, page: PageRequest): Promise<Page> {
    return this.guard(async () => {
      return listJobs(await this.context(), queue, state, page);
    });
  }

  async counts(queue: string): Promise<Record<JobState, number>> {
    return this.guard(async () => {
      return countJobs(await this.context(), queue);
    });
  }

  async queues(): Promise<string[]> {
    return this.guard(async () => {
      return listQueues(await this.context());
    });
  }

  async redrive(queue: string, selection: Selection, when: When): Promise<number> {
    return this.guard(async () => {
      return redrive(await this.context(), queue, selection, when);
    });
  }

  async purge(queue: string, state: FinishedState, selection: Selection): Promise<number> {
    return this.guard(async () => {
      return purge(await this.context(), queue, state, selection);
    });
  }

  async trim(queue: string, retention: Retention): Promise<number> {
    return this.guard(async () => {
      return trim(await this.context(), queue, retention);
    });
  }
}

/**
 * The PostgreSQL store: distributed (any number of processes share one database) and
 * transactional (jobs can be added inside a caller's own transaction, see `inTransaction`).
 *
 * Every operation is one module under ./ops and, on the hot paths (add, claim, complete, fail,
 * release, extend), one statement: one round trip, atomic on its own, with every instant read
 * from the server's clock inside that statement. Due jobs are found through an index on
 * (queue, due_at, id) and claimed with FOR UPDATE SKIP LOCKED, so workers in many processes
 * claim side by side without blocking each other; wake-ups travel by LISTEN/NOTIFY.
 *
 * Nothing touches the database at construction: the first operation runs the migrations
 * (schema.ts), and a failure to connect surfaces there, naming the server it tried.
 */
export class PostgresStore extends PostgresOperations {
  readonly schema: string;
  readonly pool: pg.Pool;
  private readonly ownsPool: boolean;
  private readonly sql: SchemaSql;
  private readonly wake: WakeListener;
  private readonly where: string;
  private migrated: Promise<void> | undefined;
  private readonly poolContext: PgContext;
  private readonly completions: CompletionBatch;
  private readonly adds: AddBatch;
  private closed = false;

  constructor(options: PostgresStoreOptions) {
    if (typeof options !== "object" || options === null) {
      throw invalidOption("PostgresStore needs { connectionString } or { pool }");
    }
    rejectUnknown(options, OPTION_NAMES, "postgres store");
    super();
    const { connectionString, pool, schema = DEFAULT_SCHEMA } = options;
    if ((connectionString === undefined) === (pool === undefined)) {
      throw invalidOption("give the postgres store a connectionString or a pool (one of them)");
    }
    if (typeof schema !== "string" || !SCHEMA_NAME.test(schema)) {
      throw invalidOption("a postgres schema name is 1–59 lower-case letters, digits or _, not starting with a digit", {
        schema,
      });
    }
    this.schema = schema;
    this.sql = new SchemaSql(schema);
    if (pool !== undefined) {
      // Duck-typed rather than instanceof: the caller's pg may be another copy of the package.
      if (typeof pool !== "object" || pool === null || typeof pool.connect !== "function" || !pool.options) {
        throw invalidOption("pool must be a pg.Pool");
      }
      this.pool = pool;
      this.ownsPool = false;
      this.where = describeServer(pool.options);
    } else {
      validateConnectionString(connectionString);
      // A server that does not answer fails a call after this long instead of hanging it.
      this.pool = new (loadPg().Pool)({ connectionString, connectionTimeoutMillis: DEFAULT_CONNECT_TIMEOUT_MS });
      this.ownsPool = true;
      this.where = describeServer({ connectionString });
      // An idle pooled connection that breaks is dropped by the pool; the next query opens
      // another. Without a listener the error would crash the process.
      this.pool.on("error", () => {});
    }
    const listenConfig: pg.ClientConfig = pool !== undefined ? { ...pool.options } : { connectionString };
    this.wake = new WakeListener(listenConfig, notifyChannel(schema), () => this.ready());
    this.completions = new CompletionBatch(this.pool, this.sql);
    const direct: PgContext = { db: this.pool, sql: this.sql, transaction: (steps) => this.transaction(steps) };
    this.adds = new AddBatch(this.pool, this.sql, (jobs) => addOneByOne(direct, jobs));
    this.poolContext = {
      db: this.pool,
      sql: this.sql,
      transaction: (steps) => this.transaction(steps),
      adds: this.adds,
      completions: this.completions,
    };
  }

  /**
   * A view of this store that runs every operation on `client`, inside the transaction the
   * caller has open there: no BEGIN or COMMIT of its own. Jobs added through it exist if and only
   * if the caller's transaction commits — the outbox problem solved by the database itself — and
   * workers are woken at that commit (a NOTIFY inside a transaction is delivered when it
   * commits, never if it rolls back). Use it with `queue.withStore(view)`.
   *
   * The view is for the life of that transaction. Closing it closes nothing. An operation that
   * fails inside it fails the caller's transaction too, as any failed statement does.
   */
  inTransaction(client: pg.ClientBase): Store {
    if (typeof client !== "object" || client === null || typeof client.query !== "function") {
      throw invalidOption("inTransaction needs the pg client your transaction runs on");
    }
    return new PostgresTransactionView(this, client as Queryable);
  }

  subscribe(queue: string, wake: (runAt: number) => void): () => void {
    if (this.closed) return () => {};
    return this.wake.subscribe(queue, wake);
  }

  /** Resolves once the wake-up connection is listening. */
  listening(): Promise<void> {
    return this.wake.listening();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.wake.close();
    await this.migrated?.catch(() => {});
    // Adds and completions called before close() still go out (they wait for the end of the turn).
    await Promise.all([this.adds.drain(), this.completions.drain()]);
    if (this.ownsPool) await this.pool.end();
  }

  /** @internal The migrated schema's statements, for transactional views. */
  async readyContext(): Promise<SchemaSql> {
    await this.ready();
    return this.sql;
  }

  protected async context(): Promise<PgContext> {
    await this.ready();
    return this.poolContext;
  }

  /** @internal Runs a call of this store or of a view of it (see connection.ts). */
  async guard<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw translatePgError(error, this.where);
    }
  }

  /** Connects and migrates once; a failure is reported to this caller and retried by the next. */
  private ready(): Promise<void> {
    if (this.closed) return Promise.reject(new StoreClosedError("postgres"));
    this.migrated ??= this.migrate().catch((error: unknown) => {
      this.migrated = undefined;
      throw error;
    });
    return this.migrated;
  }

  private async migrate(): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw translatePgError(error, this.where);
    }
    try {
      await migrate(client, this.schema);
    } catch (error) {
      throw new Error(
        `cannot prepare the checkback schema "${this.schema}" at ${this.where}: ${describePgError(error)}`,
        {
          cause: error,
        },
      );
    } finally {
      client.release();
    }
  }

  private async transaction<T>(steps: (db: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      const result = await steps(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      throw error;
    } finally {
      // A connection that could not even roll back is discarded rather than reused.
      client.release(broken);
    }
  }
}

/** A store view bound to a caller's client and transaction (see PostgresStore.inTransaction). */
class PostgresTransactionView extends PostgresOperations {
  constructor(
    private readonly parent: PostgresStore,
    private readonly client: Queryable,
  ) {
    super();
  }

  subscribe(queue: string, wake: (runAt: number) => void): () => void {
    return this.parent.subscribe(queue, wake);
  }

  async close(): Promise<void> {}

  protected guard<T>(call: () => Promise<T>): Promise<T> {
    return this.parent.guard(call);
  }

  protected async context(): Promise<PgContext> {
    const sql = await this.parent.readyContext();
    const client = this.client;
    return { db: client, sql, transaction: (steps) => steps(client) };
  }
}

function validateConnectionString(connectionString: unknown): void {
  if (typeof connectionString !== "string" || !/^postgres(ql)?:\/\//.test(connectionString)) {
    throw invalidOption('a postgres connection string looks like "postgres://user:password@host:5432/database"', {
      connectionString: typeof connectionString === "string" ? redactPgUrl(connectionString) : connectionString,
    });
  }
  try {
    new URL(connectionString);
  } catch {
    throw invalidOption(`the postgres connection string ${redactPgUrl(connectionString)} is not a valid URL`);
  }
}

/** host:port/database for messages, never the password. */
function describeServer(config: pg.ClientConfig): string {
  if (config.connectionString) return redactPgUrl(config.connectionString);
  const host = config.host ?? process.env.PGHOST ?? "localhost";
  const port = config.port ?? process.env.PGPORT ?? 5432;
  const database = config.database ?? process.env.PGDATABASE ?? config.user ?? "";
  return `postgres://${host}:${port}/${database}`;
}
