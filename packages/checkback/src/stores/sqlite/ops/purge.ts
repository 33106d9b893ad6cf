import type { FinishedState, Selection } from "../../store.js";
import type { SqliteContext } from "../context.js";
import { selectRows } from "./selection.js";

/**
 * purge: deletes finished jobs of one state (dead letters a person has dealt with, or old
 * completed/cancelled history).
 *
 * Mode: select and delete in one write transaction, by primary key. Unfinished jobs are never
 * selected (the state is one of the finished three), so a purge cannot pull a job from under
 * a worker. Ids are AUTOINCREMENT: a purged id is never handed to a new job. A finished job
 * no longer counts in its group (ops/groups.ts), so a purge leaves every group as it was.
 */
const DELETE = "DELETE FROM jobs WHERE id = ?";

/** Runs inside a write transaction. */
export function purge(ctx: SqliteContext, queue: string, state: FinishedState, selection: Selection): number {
  const remove = ctx.statement(DELETE);
  let removed = 0;
  for (const row of selectRows(ctx, queue, state, selection)) removed += remove.run(row.id).changes;
  return removed;
}
