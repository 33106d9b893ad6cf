import { describeValue } from "../core/describe.js";
import { CheckbackError } from "../core/errors.js";
import type { SweepPage } from "./sweep-types.js";

/** A sweep's page function returned something that is not `{ items: array, next: string | null }`. */
export class InvalidPageError extends CheckbackError {
  constructor(sweep: string, field: string, value: unknown) {
    super(
      "INVALID_PAGE",
      `sweep ${JSON.stringify(sweep)}: page ${field === "page" ? "" : `${field} `}must be ${EXPECTED[field]}, got ${describeValue(value)}`,
      { sweep, field },
    );
  }
}

const EXPECTED: Record<string, string> = {
  page: "an object { items, next }",
  items: "an array",
  next: "a string cursor or null",
};

/**
 * Checks a page before anything of it is handled, so a malformed one changes nothing: the run
 * keeps its cursor and the page is read again after back-off, like a page function that threw.
 */
export function validatePage<T>(sweep: string, page: unknown): SweepPage<T> {
  if (typeof page !== "object" || page === null || Array.isArray(page)) throw new InvalidPageError(sweep, "page", page);
  const { items, next } = page as { items?: unknown; next?: unknown };
  if (!Array.isArray(items)) throw new InvalidPageError(sweep, "items", items);
  if (next !== null && typeof next !== "string") throw new InvalidPageError(sweep, "next", next);
  return { items: items as T[], next };
}
