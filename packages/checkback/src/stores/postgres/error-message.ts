import type { JobError } from "../../core/job.js";

/**
 * Error messages in the `errors` jsonb column. PostgreSQL text and jsonb cannot hold NUL (jsonb
 * refuses even the escaped \u0000), yet a handler's message may contain one and must come back
 * exactly, as it does from every other store. Such a message is stored twice: `message` with
 * each NUL shown as U+FFFD, for people reading the table, and `messageJson`, the exact message
 * as JSON text (where NUL is the six characters \u0000), which is what reads return. Every other
 * message is stored as it is, so existing rows and SQL over them keep working.
 */
export interface StoredMessage {
  /** Parameter for the readable `message`. */
  message: string;
  /** Parameter for `messageJson`, null when the message needs no encoding (the key is then left out). */
  messageJson: string | null;
}

export function storeMessage(message: string): StoredMessage {
  if (!message.includes("\u0000")) return { message, messageJson: null };
  return { message: message.replaceAll("\u0000", "\uFFFD"), messageJson: JSON.stringify(message) };
}

/** An entry of `errors` as jsonb gives it back. */
export interface StoredError {
  attempt: number;
  at: number | string;
  message: string;
  messageJson?: string;
}

export function readError(error: StoredError): JobError {
  return {
    attempt: error.attempt,
    at: Number(error.at),
    message: error.messageJson === undefined ? error.message : (JSON.parse(error.messageJson) as string),
  };
}
