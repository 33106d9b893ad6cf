import { describeValue } from "./describe.js";
import { invalidOption } from "./errors.js";
import { wellFormed } from "./well-formed.js";

/**
 * Rules for text that reaches a store, written once for every store and the HTTP schemas.
 *
 * Identifiers (keys, job ids, lease tokens) are compared and indexed by the stores, so each must
 * be kept exactly or not at all. Two things no store keeps exactly: NUL (PostgreSQL text refuses
 * it) and an unpaired UTF-16 surrogate (every driver writes UTF-8, where it becomes U+FFFD, so
 * a key would be stored as another key). An identifier holding either is refused, with
 * INVALID_OPTION naming the field, before any store is called.
 *
 * Names (queues, checks) end up in store keys, URL paths and metric labels: a short alphabet,
 * and never only dots ("." and ".." are path segments that URLs rewrite).
 *
 * Free text (a handler's error message) is not refused — it comes from user code that has
 * already run — but recorded: unpaired surrogates become U+FFFD, the same on every store, and NUL
 * is kept (stores that cannot hold it encode it).
 */

/**
 * Well-formed text without NUL, as a JSON-schema pattern (ajv compiles patterns with the `u`
 * flag, where a surrogate pair is one code point outside this range and only an unpaired half
 * falls inside it). Shared with the server's schemas so both sides apply one rule.
 */
export const IDENTIFIER_PATTERN = "^[^\\u0000\\uD800-\\uDFFF]*$";
const IDENTIFIER = new RegExp(IDENTIFIER_PATTERN, "u");

export const MAX_NAME_LENGTH = 128;
export const MAX_KEY_LENGTH = 512;
/** Job ids and lease tokens are made by the stores and are short; anything longer names nothing. */
export const MAX_ID_LENGTH = 128;
/** A recorded error message is cut to this many characters (the server's fail route allows as many). */
export const MAX_ERROR_MESSAGE_LENGTH = 10_000;

/** A queue or check name as a JSON-schema pattern: letters, digits, _ . : -, and not only dots. */
export const NAME_PATTERN = "^(?!\\.+$)[A-Za-z0-9_.:-]+$";
const NAME = new RegExp(NAME_PATTERN);

/** A key, id or token: a non-empty string of at most `maxLength` characters, without NUL or unpaired surrogates. */
export function validateIdentifier(value: unknown, field: string, maxLength: number): string {
  if (typeof value !== "string" || value.length === 0 || value.length > maxLength || !IDENTIFIER.test(value)) {
    throw invalidOption(
      `${field} must be a non-empty string of at most ${maxLength} characters, without NUL or unpaired surrogates; got ${describeValue(value)}`,
      { field, value },
    );
  }
  return value;
}

/** A queue or check name: 1–`maxLength` of letters, digits, _ . : -, and not only dots. */
export function validateName(value: unknown, field: string, maxLength = MAX_NAME_LENGTH): string {
  if (typeof value !== "string" || value.length > maxLength || !NAME.test(value)) {
    throw invalidOption(
      `a ${field} is 1–${maxLength} characters of letters, digits, _ . : - (not only dots); got ${describeValue(value)}`,
      { field, value },
    );
  }
  return value;
}

/** Free text as every store records it: unpaired surrogates replaced by U+FFFD, cut to `maxLength`. */
export function recordableText(text: string, maxLength: number): string {
  return wellFormed(text.slice(0, maxLength));
}

/** What is recorded of a failed attempt: the error's message (or the thrown value as text). */
export function failureMessage(error: unknown): string {
  let text: string;
  try {
    text = error instanceof Error ? error.message || String(error) : String(error);
  } catch {
    text = describeValue(error);
  }
  return recordableText(text, MAX_ERROR_MESSAGE_LENGTH);
}
