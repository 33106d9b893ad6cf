import { resolveWhen } from "../../new-job.js";
import type { Selection, When } from "../../store.js";
import type { SqliteContext } from "../context.js";
import { changeGroup } from "./groups.js";
import { selectRows } from "./selection.js";

/**
 * redrive: dead jobs back to scheduled, their attempts reset and their error history kept (it
 * tells the person who redrove them what went wrong before).
 *
 * Mode: select and move in one write transaction. A dead job's key may meanwhile be held by
 * another unfinished job (the producer added it again); such a job stays dead rather than
 * breaking key uniqueness — the unique index would refuse it anyway, this check just keeps
 * that from failing the whole batch. Two dead jobs with one key: the first moved takes it.
 * A grouped job goes back to wait in its group (due_at NULL), which is recounted and
 * recomputed (ops/groups.ts).
 */
const HOLDER_EXISTS = "SELECT 1 FROM jobs WHERE queue = ? AND key = ? AND state IN ('scheduled', 'active')";

const REDRIVE = `
  UPDATE jobs SET state = 'scheduled', attempts = 0, run_at = ?, due_at = ?, lease_token = NULL,
                  lease_expires_at = NULL, updated_at = ?
  WHERE id = ?`;

/** Runs inside a write transaction. */
export function redrive(ctx: SqliteContext, queue: string, selection: Selection, when: When, now: number): number {
  const runAt = resolveWhen(when, now);
  const holderExists = ctx.statement(HOLDER_EXISTS).pluck();
  const move = ctx.statement(REDRIVE);
  let moved = 0;
  let ungrouped = false;
  for (const row of selectRows(ctx, queue, "dead", selection)) {
    if (row.key !== null && holderExists.get(queue, row.key) !== undefined) continue;
    moved += 1;
    if (row.group_name === null) {
      move.run(runAt, runAt, now, row.id);
      ungrouped = true;
    } else {
      move.run(runAt, null, now, row.id);
      changeGroup(ctx, queue, row.group_name, now, { scheduled: 1 });
    }
  }
  if (ungrouped) ctx.wake(queue, runAt);
  return moved;
}
