import type Database from "better-sqlite3";

/**
 * What every store operation gets: the connection, cached prepared statements, and group
 * commit with wake-ups announced only after the commit.
 *
 * Statements are prepared once per connection and kept (keyed by their SQL text, which lives
 * as a constant beside the operation that runs it): preparing costs more than running most of
 * them.
 *
 * Group commit. A commit is the expensive part of a small write: the changed pages of the
 * table and of every index go to the WAL, once per transaction. A worker finishing 50 jobs in
 * one turn of the event loop would pay that 50 times. So operations are queued and run at the
 * end of the turn (setImmediate) in ONE transaction. An operation that throws (a stale lease
 * token) rolls back alone and rejects alone while the others commit: one that writes several
 * statements runs inside its own SAVEPOINT; one that writes a single statement needs none,
 * since SQLite undoes a failed statement by itself (and a stale token is detected before
 * anything is written). Each caller's promise settles only after the commit, so
 * "acknowledged" still means "committed"; if the commit itself fails, the whole batch rejects.
 * Operations run in call order, reads included, so a read sees every write called before it.
 *
 * The transaction is IMMEDIATE when the batch writes: the write lock is taken up front, so a
 * writer in another process waits (busy_timeout) instead of failing half way with SQLITE_BUSY
 * when a read would upgrade to a write.
 */
type Mode = "read" | "write-one" | "write-many";

interface Pending {
  run: () => unknown;
  mode: Mode;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  ok?: boolean;
  value?: unknown;
  wakes?: Map<string, number> | undefined;
}

export class SqliteContext {
  private readonly statements = new Map<string, Database.Statement>();
  private readonly transaction: Database.Transaction<(fn: () => unknown) => unknown>;
  private queue: Pending[] = [];
  private flushScheduled: NodeJS.Immediate | undefined;
  /** Due instants noted by the running operation, per queue. */
  private wakes: Map<string, number> | undefined;

  constructor(
    readonly db: Database.Database,
    private readonly announce: (queue: string, runAt: number) => void,
  ) {
    this.transaction = db.transaction((fn: () => unknown) => fn());
  }

  statement<Row = unknown>(sql: string): Database.Statement<unknown[], Row> {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement as Database.Statement<unknown[], Row>;
  }

  /** Queues an operation that may write several statements; it is atomic on its own and settles after its batch commits. */
  write<T>(run: () => T): Promise<T> {
    return this.enqueue(run, "write-many");
  }

  /** Queues an operation whose only write is one statement (reads before it are fine). */
  writeOne<T>(run: () => T): Promise<T> {
    return this.enqueue(run, "write-one");
  }

  /** Queues a read, so it sees every write queued before it. */
  read<T>(run: () => T): Promise<T> {
    return this.enqueue(run, "read");
  }

  /**
   * Runs `fn` inside the running operation as a SAVEPOINT, atomic on its own: for an operation
   * queued with writeOne that finds, once running, that it must write more than one statement
   * (a grouped job's change also updates its group, ops/groups.ts).
   */
  atomic<T>(fn: () => T): T {
    return this.transaction(fn) as T;
  }

  /** Notes that a job in `queue` became due at `runAt` (announced after the commit). */
  wake(queue: string, runAt: number): void {
    this.wakes ??= new Map();
    const known = this.wakes.get(queue);
    if (known === undefined || runAt < known) this.wakes.set(queue, runAt);
  }

  /** Runs what is queued now (before closing the connection). */
  flush(): void {
    clearImmediate(this.flushScheduled);
    this.flushScheduled = undefined;
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    const writes = batch.some((pending) => pending.mode !== "read");
    try {
      const runBatch = () => {
        for (const pending of batch) this.runOne(pending);
      };
      if (writes) this.transaction.immediate(runBatch);
      else this.transaction.deferred(runBatch);
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    const wakes = new Map<string, number>();
    for (const pending of batch) {
      if (!pending.wakes) continue;
      for (const [queue, runAt] of pending.wakes) {
        const known = wakes.get(queue);
        if (known === undefined || runAt < known) wakes.set(queue, runAt);
      }
    }
    for (const [queue, runAt] of wakes) this.announce(queue, runAt);
    for (const pending of batch) {
      if (pending.ok) pending.resolve(pending.value);
    }
  }

  private enqueue<T>(run: () => T, mode: Mode): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, mode, resolve: resolve as (value: unknown) => void, reject });
      this.flushScheduled ??= setImmediate(() => this.flush());
    });
  }

  private runOne(pending: Pending): void {
    this.wakes = undefined;
    try {
      // A transaction function called inside a transaction is a SAVEPOINT: on a throw only
      // this operation's changes are rolled back.
      pending.value = pending.mode === "write-many" ? this.transaction(pending.run) : pending.run();
      pending.ok = true;
      pending.wakes = this.wakes;
    } catch (error) {
      // Some failures (a full disk, an I/O error) make SQLite roll back the whole transaction;
      // what follows would then commit piecemeal, so the batch as a whole fails instead.
      if (!this.db.inTransaction) throw error;
      pending.reject(error);
    } finally {
      this.wakes = undefined;
    }
  }
}
