import { invalidOption } from "../core/errors.js";
import type { JobState } from "../core/job.js";

/**
 * List cursors, the same rule on every store: a cursor names the queue and state it pages
 * through and the store's own position in it, as base64url JSON. Handing `list` a cursor that is
 * not one of its own — garbled, from another queue or state, or from another kind of store —
 * is refused with INVALID_OPTION rather than answered with a wrong or empty page.
 */
export function encodeListCursor(queue: string, state: JobState, position: unknown): string {
  return Buffer.from(JSON.stringify([queue, state, position])).toString("base64url");
}

/** The position a cursor holds, or null for the first page (no cursor). */
export function decodeListCursor<P>(
  cursor: string | null | undefined,
  queue: string,
  state: JobState,
  isPosition: (position: unknown) => position is P,
): P | null {
  if (cursor === null || cursor === undefined || cursor === "") return null;
  let parsed: unknown;
  try {
    parsed = typeof cursor === "string" ? JSON.parse(Buffer.from(cursor, "base64url").toString()) : undefined;
  } catch {
    parsed = undefined;
  }
  if (Array.isArray(parsed) && parsed.length === 3 && parsed[0] === queue && parsed[1] === state) {
    if (isPosition(parsed[2])) return parsed[2];
  }
  throw invalidOption(`not a cursor from a previous page of ${state} jobs in queue ${JSON.stringify(queue)}`, {
    cursor,
  });
}

/** A position that is a positive integer written as a string (a row id or insertion number). */
export function isIntegerPosition(position: unknown): position is string {
  return typeof position === "string" && /^[1-9][0-9]{0,18}$/.test(position);
}
