import { CheckbackError, StoreUnavailableError } from "../../core/errors.js";

/**
 * Connection handling for the PostgreSQL store: how long a connection may take, and what a
 * caller is told when the server cannot be reached.
 *
 * A stopped server refuses connections at once and ends the open ones, and pg reports either
 * with an error naming neither the server nor, often, the cause ("Connection terminated
 * unexpectedly"). Such errors become a StoreUnavailableError naming the server (never the
 * password) and the cause; the pool opens fresh connections for later calls, so they succeed
 * again once the server is back. A statement whose connection dropped may or may not have
 * committed: STORE_UNAVAILABLE means "unknown, retry".
 */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/** SQLSTATE classes and codes that say the server is out of reach or refuses logins, not that a statement is wrong. */
const UNAVAILABLE_SQLSTATE = /^(08|57P0[1-3]|53300|28|3D000)/;
const UNAVAILABLE_MESSAGE =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|not queryable|Connection ended|ECONN|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH/i;

/** The error a caller sees for `error`, raised while talking to the server at `where`. */
export function translatePgError(error: unknown, where: string): unknown {
  if (error instanceof CheckbackError || !(error instanceof Error || error instanceof AggregateError)) return error;
  const cause = describePgError(error);
  const code = (error as { code?: string }).code ?? "";
  const connectionLevel =
    error instanceof AggregateError ||
    (error as { syscall?: string }).syscall !== undefined ||
    UNAVAILABLE_SQLSTATE.test(code) ||
    UNAVAILABLE_MESSAGE.test(cause);
  if (!connectionLevel) return error;
  return new StoreUnavailableError(`PostgreSQL at ${where} is unavailable: ${cause}`, { url: where, cause });
}

export function describePgError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describePgError(error.errors[0]);
  const message = (error as Error)?.message;
  const code = (error as { code?: string })?.code;
  return message || code || String(error);
}

/** A postgres URL without its password. */
export function redactPgUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}
