import type { BackoffOption, SweepDefinition, SweepPage } from "checkback";
import { PostFailure, postSigned } from "../push/post.js";

/** Largest page answer read, in bytes: pages are lists of items, larger than push answers. */
export const MAX_PAGE_BYTES = 16 * 1024 * 1024;

/**
 * A sweep defined over HTTP, as kept in the server settings. The server has no user code, so
 * both of the sweep's functions are URLs, signed like push deliveries:
 *   page  POST { sweep, runId, cursor } → 2xx { "items": [ … ], "next": "cursor" | null }
 *   item  POST { sweep, runId, attempt, item } → 2xx (anything else is a failed item)
 * A page answer that is not 2xx, not JSON or malformed is a failed page: read again after
 * back-off, the run failing after `pageAttempts` tries with its cursor kept.
 */
export interface HttpSweep {
  pageUrl: string;
  itemUrl: string;
  /** Items handled at once. */
  concurrency: number;
  /** Retries of a failed item before it goes to the sweep's dead letters. */
  attempts: number;
  backoff: BackoffOption | null;
  /** Tries of a failing page before the run fails. */
  pageAttempts: number;
  /** Timeout of each page and item request. */
  timeoutMs: number;
  /** Items the sweep will see, for the ETA; null if unknown. */
  total: number | null;
  secret: string;
}

export function toSweepDefinition(name: string, http: HttpSweep): SweepDefinition<unknown> {
  const post = (url: string, body: unknown, signal: AbortSignal, maxAnswerBytes?: number) =>
    postSigned({
      url,
      secret: http.secret,
      timeoutMs: http.timeoutMs,
      body: JSON.stringify(body),
      headers: { "checkback-sweep": name },
      signal,
      ...(maxAnswerBytes === undefined ? {} : { maxAnswerBytes }),
    });
  return {
    concurrency: http.concurrency,
    attempts: http.attempts,
    ...(http.backoff === null ? {} : { backoff: http.backoff }),
    pageAttempts: http.pageAttempts,
    ...(http.total === null ? {} : { total: http.total }),
    async page(cursor, context) {
      const { text, truncated } = await post(
        http.pageUrl,
        { sweep: name, runId: context.runId, cursor },
        context.signal,
        MAX_PAGE_BYTES,
      );
      if (truncated) throw new PostFailure(`page answer is over ${MAX_PAGE_BYTES} bytes`, "http_error");
      try {
        // The library checks the page's shape (INVALID_PAGE naming the field).
        return JSON.parse(text) as SweepPage<unknown>;
      } catch {
        throw new Error(`page answered with a body that is not JSON: ${text.slice(0, 100)}`);
      }
    },
    async handle(item, context) {
      await post(http.itemUrl, { sweep: name, runId: context.runId, attempt: context.attempt, item }, context.signal);
    },
  };
}
