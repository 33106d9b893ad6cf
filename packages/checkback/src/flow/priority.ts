import { invalidOption } from "../core/errors.js";

/**
 * Priorities: an integer from MIN_PRIORITY to MAX_PRIORITY, higher first, 0 by default.
 *
 * A priority orders a job among the jobs that are DUE: it never makes a job run before its
 * runAt. Among due jobs a claim takes the lowest claim rank first, where
 *
 *     rank = due instant − priority × PRIORITY_STEP_MS      (ties: insertion order)
 *
 * so one priority level is worth PRIORITY_STEP_MS of waiting. That is the anti-starvation rule:
 * a job that has been due for longer than (its priority + MAX_PRIORITY) × PRIORITY_STEP_MS
 * ranks ahead of every job that becomes due after it, whatever that job's priority; a low
 * priority delays a job by a bounded time, never forever. With every priority at 0 the rank is
 * the due instant and the order is the plain (due instant, insertion) order.
 *
 * Every store can do this in its index without scanning the due set: it keeps one due index
 * per priority level in use (level 0 is the ordinary one), reads the head of each level up to
 * the claim's limit, and merges them by rank. A queue with no prioritized job pays one
 * existence check per claim and takes the ordinary path.
 */
export const MIN_PRIORITY = -10;
export const MAX_PRIORITY = 10;
export const DEFAULT_PRIORITY = 0;
export const PRIORITY_STEP_MS = 60_000;

/** The levels other than 0, highest first (the per-level indexes a claim reads). */
export const PRIORITY_LEVELS: readonly number[] = Array.from(
  { length: MAX_PRIORITY - MIN_PRIORITY + 1 },
  (_, i) => MAX_PRIORITY - i,
).filter((level) => level !== 0);

export function resolvePriority(priority: unknown): number {
  if (priority === undefined) return DEFAULT_PRIORITY;
  if (
    typeof priority !== "number" ||
    !Number.isInteger(priority) ||
    priority < MIN_PRIORITY ||
    priority > MAX_PRIORITY
  ) {
    throw invalidOption(`priority must be an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY}`, {
      field: "priority",
      value: priority,
    });
  }
  return priority;
}

/** The claim rank of a job due at `dueAt` (see the rule above). */
export function claimRank(dueAt: number, priority: number): number {
  return dueAt - priority * PRIORITY_STEP_MS;
}
