import type Database from "better-sqlite3";

/**
 * What every store operation gets: the connection, the clock, cached prepared statements and
 * a write transaction that announces the jobs it made due only once they are committed.
 *
 * Statements are prepared once per connection and kept (keyed by their SQL text, which lives
 * as a constant beside the operation that runs it): preparing costs more than running most of
 * them.
 */
export class SqliteContext {
  private readonly statements = new Map<string, Database.Statement>();
  /** Earliest due instant made by the running write, per queue. */
  private readonly pendingWakes = new Map<string, number>();
  private readonly transaction: Database.Transaction<(fn: () => unknown) => unknown>;

  constructor(
    readonly db: Database.Database,
    readonly clock: () => number,
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

  /**
   * Runs `fn` in an IMMEDIATE transaction: the write lock is taken up front, so a concurrent
   * writer in another process waits (busy_timeout) instead of failing half way with
   * SQLITE_BUSY when a read would upgrade to a write. Wake-ups noted during `fn` fire after
   * the commit, never for a rolled-back change.
   */
  write<T>(fn: () => T): T {
    let result: T;
    try {
      result = this.transaction.immediate(fn) as T;
    } catch (error) {
      this.pendingWakes.clear();
      throw error;
    }
    if (this.pendingWakes.size > 0) {
      const wakes = [...this.pendingWakes];
      this.pendingWakes.clear();
      for (const [queue, runAt] of wakes) this.announce(queue, runAt);
    }
    return result;
  }

  /** Notes that a job in `queue` became due at `runAt` (announced after the commit). */
  wake(queue: string, runAt: number): void {
    const known = this.pendingWakes.get(queue);
    if (known === undefined || runAt < known) this.pendingWakes.set(queue, runAt);
  }
}
