import type { Retention } from "../../store.js";
import type { SqliteContext } from "../context.js";

/**
 * trim: retention of completed and cancelled jobs — keep the newest `keepLast` (by finish
 * instant, id breaking ties) and nothing older than `maxAgeMs`. Dead jobs are never trimmed:
 * they wait for a person.
 *
 * Mode: workers call this about once a second, so it must cost in proportion to what it
 * deletes, not to the queue's size. jobs_retention indexes exactly the trimmable rows by
 * (queue, updated_at, id): the keepLast boundary is found by stepping `keepLast` entries down
 * from the newest, and both deletes are range deletes below a bound on that index. Both run in
 * one write transaction.
 */
const BOUNDARY = `
  SELECT updated_at, id FROM jobs
  WHERE queue = ? AND state IN ('completed', 'cancelled')
  ORDER BY updated_at DESC, id DESC
  LIMIT 1 OFFSET ?`;

const DELETE_FROM_BOUNDARY = `
  DELETE FROM jobs
  WHERE queue = ? AND state IN ('completed', 'cancelled') AND (updated_at, id) <= (?, ?)`;

const DELETE_OLDER = `
  DELETE FROM jobs
  WHERE queue = ? AND state IN ('completed', 'cancelled') AND updated_at < ?`;

/** Runs inside a write transaction. */
export function trim(ctx: SqliteContext, queue: string, { keepLast, maxAgeMs }: Retention, now: number): number {
  let removed = 0;
  if (maxAgeMs !== undefined) removed += ctx.statement(DELETE_OLDER).run(queue, now - maxAgeMs).changes;
  if (keepLast !== undefined) {
    const boundary = ctx.statement<{ updated_at: number; id: number }>(BOUNDARY).get(queue, keepLast);
    if (boundary) removed += ctx.statement(DELETE_FROM_BOUNDARY).run(queue, boundary.updated_at, boundary.id).changes;
  }
  return removed;
}
