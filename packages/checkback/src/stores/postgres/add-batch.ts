import type { AddOutcome, NewJob } from "../store.js";
import type { Queryable, SchemaSql } from "./context.js";
import { canShareStatement, insertBatch } from "./ops/add-jobs.js";

/**
 * Group commit for adds. A producer adding jobs one at a time — an order service enqueuing one
 * timeout per order — pays one commit (a WAL flush, a few milliseconds) per add; at a thousand
 * adds a second that alone keeps a pool's connections busy. Gathered here, the add calls of one
 * turn of the event loop go out as one INSERT and share one commit.
 *
 * Each call keeps its own contract. It is acknowledged only once the statement committed. Calls
 * join a statement in call order, and only while the statement's rules hold (keys distinct,
 * one onDuplicate policy among keyed jobs); the first call that does not fit waits for the next
 * statement with everything after it, so a later call always sees an earlier call's jobs (two
 * adds of one key in a row behave exactly as if sent one by one). A call that needs the
 * one-by-one path itself (a batch repeating a key) runs alone through `addAlone`. If a shared
 * statement fails, each of its calls is retried alone, so a bad call fails by itself.
 *
 * The store's pool uses this; a transactional view adds directly on the caller's client.
 */
const MAX_JOBS = 5_000;

interface Pending {
  jobs: NewJob[];
  resolve(outcomes: AddOutcome[]): void;
  reject(error: unknown): void;
}

export class AddBatch {
  private waiting: Pending[] = [];
  private scheduled = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly db: Queryable,
    private readonly sql: SchemaSql,
    private readonly addAlone: (jobs: NewJob[]) => Promise<AddOutcome[]>,
  ) {}

  add(jobs: NewJob[]): Promise<AddOutcome[]> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ jobs, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          void this.flush();
        });
      }
    });
  }

  /** Sends everything waiting and resolves once every call has its answer (before the pool closes). */
  async drain(): Promise<void> {
    while (this.waiting.length > 0 || this.inFlight.size > 0) {
      if (this.waiting.length > 0 && this.inFlight.size === 0) void this.flush();
      await Promise.all(this.inFlight);
    }
  }

  /**
   * Statements go out one after another, never side by side: a call must not overtake an
   * earlier one it did not fit beside.
   */
  private flush(): Promise<void> {
    if (this.inFlight.size > 0) return Promise.resolve(); // the running flush continues with these
    const sending = this.sendAll().finally(() => this.inFlight.delete(sending));
    this.inFlight.add(sending);
    return sending;
  }

  private async sendAll(): Promise<void> {
    while (this.waiting.length > 0) {
      const group = this.takeGroup();
      await this.send(group);
    }
  }

  /** The longest run of waiting calls, from the first, that can share one statement. */
  private takeGroup(): Pending[] {
    const group: Pending[] = [];
    const jobs: NewJob[] = [];
    for (const pending of this.waiting) {
      const candidate = jobs.concat(pending.jobs);
      if (group.length > 0 && (candidate.length > MAX_JOBS || !canShareStatement(candidate))) break;
      group.push(pending);
      jobs.push(...pending.jobs);
      if (!canShareStatement(jobs)) break; // a call that cannot share even with itself goes alone
    }
    this.waiting = this.waiting.slice(group.length);
    return group;
  }

  private async send(group: Pending[]): Promise<void> {
    const only = group[0]!;
    if (group.length === 1) {
      try {
        only.resolve(
          canShareStatement(only.jobs)
            ? await insertBatch(this.db, this.sql, only.jobs)
            : await this.addAlone(only.jobs),
        );
      } catch (error) {
        only.reject(error);
      }
      return;
    }
    let outcomes: AddOutcome[];
    try {
      outcomes = await insertBatch(
        this.db,
        this.sql,
        group.flatMap((pending) => pending.jobs),
      );
    } catch {
      // Nothing was written: find out which call was at fault by sending each alone.
      for (const pending of group) await this.send([pending]);
      return;
    }
    let offset = 0;
    for (const pending of group) {
      pending.resolve(outcomes.slice(offset, offset + pending.jobs.length));
      offset += pending.jobs.length;
    }
  }
}
