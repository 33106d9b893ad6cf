import { LeaseLostError } from "../../core/errors.js";
import { type Queryable, run, type SchemaSql } from "./context.js";
import { groupsFinished } from "./ops/group-changes.js";
import { parseId } from "./rows.js";

/**
 * Group commit for completions. Completing is the one write every job makes, and on PostgreSQL
 * its cost is the commit — a WAL flush — not the UPDATE. A worker finishing fifty quick handlers
 * in one turn of the event loop would pay fifty flushes; gathered here, the completions of one
 * turn go out as one UPDATE … FROM unnest(…) and share one commit.
 *
 * Each caller still gets its own outcome: the statement returns the ids it completed, and a
 * caller whose (id, token) matched no active row gets LeaseLostError, exactly as if it had run
 * alone — a stale token changes nothing for the others, because it simply matches nothing. A
 * second completion of a job whose completion is already in a statement waits until that one
 * has its answer, so it sees the first one's outcome (and is refused as a stale token if that
 * one won) — batches otherwise run side by side on the pool, and could overtake each other. If the statement itself
 * fails, every caller in it gets the error and nothing was written.
 *
 * A completed grouped job frees its place in its group in the same statement (group_change, one
 * call per group, in group-name order; ops/group-changes.ts).
 *
 * The store's pool uses this; a transactional view completes directly on the caller's client.
 */
const COMPLETE_MANY = ({ jobs, now, schema }: SchemaSql) => `
  WITH clock AS (SELECT ${now} AS now),
  done AS (
    UPDATE ${jobs} j SET state = 'completed', result = c.result, lease_token = NULL, lease_expires_at = NULL,
                       due_at = NULL, updated_at = clock.now
    FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS c(id, queue, token, result), clock
    WHERE j.id = c.id AND j.queue = c.queue AND j.state = 'active' AND j.lease_token = c.token
    RETURNING j.id, j.queue, j.group_name
  ),
  ${groupsFinished(schema, "done")}
  SELECT id, (SELECT count(*) FROM touched) AS groups_touched FROM done`;

const MAX_BATCH = 1000;

interface Pending {
  id: string;
  queue: string;
  leaseToken: string;
  result: string | null;
  resolve(): void;
  reject(error: unknown): void;
}

export class CompletionBatch {
  private waiting: Pending[] = [];
  private scheduled = false;
  private readonly inFlight = new Set<Promise<void>>();
  /** Jobs whose completion is in a statement now: a second completion of one waits for its answer. */
  private readonly sendingIds = new Set<string>();

  constructor(
    private readonly db: Queryable,
    private readonly sql: SchemaSql,
  ) {}

  complete(queue: string, id: string, leaseToken: string, result: string | null): Promise<void> {
    if (parseId(id) === null) return Promise.reject(new LeaseLostError(id));
    return new Promise((resolve, reject) => {
      this.waiting.push({ id, queue, leaseToken, result, resolve, reject });
      this.schedule();
    });
  }

  /** Sends what is waiting now and resolves once every batch has its answer (before the pool closes). */
  async drain(): Promise<void> {
    while (this.waiting.length > 0 || this.inFlight.size > 0) {
      this.flush();
      await Promise.all(this.inFlight);
    }
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const batch: Pending[] = [];
    const later: Pending[] = [];
    const ids = new Set<string>();
    for (const pending of this.waiting) {
      if (ids.has(pending.id) || this.sendingIds.has(pending.id) || batch.length >= MAX_BATCH) later.push(pending);
      else {
        ids.add(pending.id);
        batch.push(pending);
      }
    }
    this.waiting = later;
    if (batch.length === 0) return;
    for (const id of ids) this.sendingIds.add(id);
    const sending = this.send(batch).finally(() => {
      this.inFlight.delete(sending);
      for (const id of ids) this.sendingIds.delete(id);
      // Whatever had to wait for this batch (a second completion of one of its jobs) goes now.
      if (this.waiting.length > 0) this.schedule();
    });
    this.inFlight.add(sending);
    // Beyond MAX_BATCH: the rest can go at once, in a statement of its own.
    if (later.some((pending) => !this.sendingIds.has(pending.id))) this.schedule();
  }

  private async send(batch: Pending[]): Promise<void> {
    let completed: Set<string>;
    try {
      const rows = await run<{ id: string }>(this.db, this.sql, COMPLETE_MANY, [
        batch.map((p) => p.id),
        batch.map((p) => p.queue),
        batch.map((p) => p.leaseToken),
        batch.map((p) => p.result),
      ]);
      completed = new Set(rows.map((row) => row.id));
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    for (const pending of batch) {
      if (completed.has(pending.id)) pending.resolve();
      else pending.reject(new LeaseLostError(pending.id));
    }
  }
}
