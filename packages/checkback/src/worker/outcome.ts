import { retryDelay } from "../core/backoff.js";
import type { JobRecord } from "../core/job.js";
import { serializePayload } from "../core/payload.js";
import { failureMessage } from "../core/text.js";
import type { Completion, Failure, Release as ReleaseRecord } from "../stores/store.js";
import { CompleteWith, Release } from "./answers.js";

/** How an attempt ended: the handler's answer, or what it threw. */
export type Handled<E = Error> = { ok: true; value: unknown } | { ok: false; error: E };

/**
 * What to record for an attempt. Each shape is also the argument of the store call that
 * records it (Store.release, complete, fail), so recording one allocates nothing more.
 */
export type Outcome<E = Error> =
  /** Released: due again after `delayMs`, no attempt spent; `payload` (JSON text) replaces the job's if set. */
  | (ReleaseRecord & { kind: "release"; payload: string | undefined })
  /** Completed with `result` (JSON text; `value` as the handler gave it), adding `enqueue` atomically. */
  | (Completion & { kind: "complete"; value: unknown })
  | FailOutcome<E>;

/** A failed attempt: retried after `retryDelayMs`, or dead when it is null (attempts used up). */
export type FailOutcome<E = Error> = Failure & { kind: "fail"; cause: E | Error };

/**
 * The outcome rule, written once for every way a job is consumed (a library worker, the HTTP
 * pull route): later() releases, slowDown() releases and pauses the job's group (or queue), an
 * answer completes, an error fails the attempt, and a failed
 * last attempt makes the job dead. An answer the store could not keep as given (a value JSON
 * cannot carry, or over `maxPayloadBytes`) is a failed attempt with that error, never silently
 * recorded as something else.
 */
export function decideOutcome<E>(
  job: JobRecord,
  handled: { ok: false; error: E },
  maxPayloadBytes: number,
): FailOutcome<E>;
export function decideOutcome<E>(job: JobRecord, handled: Handled<E>, maxPayloadBytes: number): Outcome<E>;
export function decideOutcome<E>(job: JobRecord, handled: Handled<E>, maxPayloadBytes: number): Outcome<E> {
  if (handled.ok) {
    const { value } = handled;
    try {
      if (value instanceof Release) {
        const payload =
          value.payload === undefined ? undefined : serializePayload(value.payload, maxPayloadBytes, "later() payload");
        const release = { kind: "release" as const, delayMs: value.delayMs, payload };
        if (!value.slowDown) return release;
        // A slowDown pauses the job's group by default, its queue when it has none.
        const scope = value.slowDown.scope ?? (job.group === null ? "queue" : "group");
        return scope === "group" ? { ...release, pauseGroup: true } : { ...release, pauseQueue: true };
      }
      if (value instanceof CompleteWith) {
        const result = value.result === undefined ? null : serializePayload(value.result, maxPayloadBytes, "result");
        return { kind: "complete", result, enqueue: value.enqueue, value: value.result };
      }
      const result = value === undefined ? null : serializePayload(value, maxPayloadBytes, "result");
      return { kind: "complete", result, enqueue: undefined, value };
    } catch (error) {
      return failed(job, error instanceof Error ? error : new Error(String(error)));
    }
  }
  return failed(job, handled.error);
}

function failed<E>(job: JobRecord, cause: E | Error): FailOutcome<E> {
  const exhausted = job.attempts >= job.maxAttempts;
  return {
    kind: "fail",
    error: failureMessage(cause),
    retryDelayMs: exhausted ? null : retryDelay(job.backoff, job.attempts),
    cause,
  };
}
