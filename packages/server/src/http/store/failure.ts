import { CheckbackError, StoreUnavailableError } from "checkback";

/**
 * Which errors thrown by a store call mean "the store cannot be reached or used right now"
 * rather than "the code is wrong". The first are answered 503 STORE_UNAVAILABLE (retry later);
 * anything else stays a 500, so a real bug is never disguised as an outage.
 */

/** Socket and file-system errors a store surfaces when its server or its disk is gone. */
const SYSTEM_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  // SQLite's file or directory cannot be created or written.
  "EACCES",
  "EPERM",
  "EROFS",
  "ENOSPC",
  "ENOTDIR",
]);

/** better-sqlite3 SqliteError codes (extended codes share these prefixes, e.g. SQLITE_IOERR_WRITE). */
const SQLITE_CODE = /^SQLITE_(CANTOPEN|READONLY|IOERR|FULL|BUSY|LOCKED|PERM|NOTADB|CORRUPT)/;

/** PostgreSQL SQLSTATEs: connection exceptions (08…), shutdown and start-up (57P01–57P03), out of resources (53…). */
const PG_STATE = /^(08...|57P0[123]|53...)$/;

/** ioredis and pg name their connection failures by class name or by fixed message text. */
const ERROR_NAMES = new Set(["MaxRetriesPerRequestError", "ClusterAllFailedError"]);
const MESSAGES = [
  /^Connection is closed\.?$/,
  /Stream isn't writeable/,
  /None of startup nodes is available/,
  /Failed to refresh slots cache/,
  /^Connection terminated/,
  /Client has encountered a connection error and is not queryable/,
  /timeout exceeded when trying to connect/,
  /^Client was closed and is not queryable/,
  /Cannot use a pool after calling end on the pool/,
];

export function isStoreConnectionFailure(error: unknown): boolean {
  if (!(error instanceof Error) || error instanceof CheckbackError) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && (SYSTEM_CODES.has(code) || SQLITE_CODE.test(code) || PG_STATE.test(code))) {
    return true;
  }
  if (ERROR_NAMES.has(error.name) || MESSAGES.some((pattern) => pattern.test(error.message))) return true;
  // AggregateError from a connect to several addresses (localhost → ::1 and 127.0.0.1).
  if (error instanceof AggregateError) return error.errors.some(isStoreConnectionFailure);
  return false;
}

/** The error to hand on: a typed StoreUnavailableError for an outage, the error itself otherwise. */
export function classifyStoreError(error: unknown, store: string): unknown {
  if (!isStoreConnectionFailure(error)) return error;
  const cause = error as Error & { code?: string };
  return new StoreUnavailableError(`the ${store} store is unavailable: ${cause.message || cause.code || cause.name}`, {
    store,
    ...(typeof cause.code === "string" && { cause: cause.code }),
  });
}
