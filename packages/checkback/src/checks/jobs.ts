import { DEFAULT_BACKOFF } from "../core/backoff.js";
import { MAX_KEY_LENGTH, MAX_NAME_LENGTH, validateIdentifier, validateName } from "../core/text.js";
import type { NewJob } from "../stores/store.js";
import type { CheckOutcome, ProbeRecord } from "./types.js";

/**
 * A check lives in an internal queue of its own, `check.<name>`, as two kinds of job:
 *
 *   probe    one per run of a check, keyed "check:<key>". Each worker run of it is one probe;
 *            a pending answer releases it (with its history in the payload) until the next probe.
 *   outcome  added atomically when the probe job completes (by a probe's answer, by giving up,
 *            or by resolve/reject from outside), keyed "outcome:<probe job id>". It runs
 *            onDone/onFailed/onGaveUp and retries and dead-letters like any job.
 *
 * The prefixes keep a user's key from ever naming an outcome job, and keying outcomes by the
 * probe job's id makes a second outcome for the same run impossible even if asked for twice.
 */
export const CHECK_KEY_PREFIX = "check:";
export const OUTCOME_KEY_PREFIX = "outcome:";

/** Lease expiries a probe job survives (workers crashing mid-probe) before it goes dead. */
export const CHECK_JOB_ATTEMPTS = 25;

export interface ProbePayload<I> {
  kind: "probe";
  input: I;
  /** Probes run so far (the history keeps only the last ones). */
  probes: number;
  history: ProbeRecord[];
}

/**
 * The outcome as stored. Its `endedAt` is not stored: the outcome job is created in the same
 * atomic step that ends the check, so its createdAt is that instant on the store's clock.
 */
export interface OutcomePayload<I, R> {
  kind: "outcome";
  outcome: StoredOutcome<I, R>;
}

export type StoredOutcome<I, R> = Omit<CheckOutcome<I, R>, "name" | "endedAt">;

export type CheckJobPayload<I, R> = ProbePayload<I> | OutcomePayload<I, R>;

/** What a completed probe job keeps as its result: how the check ended. */
export interface Ending<R> {
  state: "done" | "failed" | "gave_up";
  result: R | null;
  reason: string | null;
  endedBy: CheckOutcome<unknown, R>["endedBy"];
  /**
   * The history as of the end, when a probe ended it: completing a job keeps its payload as
   * it was, so the last probe's record travels in the result instead.
   */
  probes?: number;
  history?: ProbeRecord[];
}

/** Every check's queue starts with this; the server keeps such queues out of its generic queue routes. */
export const CHECK_QUEUE_PREFIX = "check.";

/** The largest check name, so that its internal queue name `check.<name>` is a queue name. */
export const MAX_CHECK_NAME_LENGTH = MAX_NAME_LENGTH - CHECK_QUEUE_PREFIX.length;

export function checkQueueName(name: string): string {
  return CHECK_QUEUE_PREFIX + validateName(name, "check name", MAX_CHECK_NAME_LENGTH);
}

/** A check's key as its probe job holds it; the key follows the rules of any job key, less the prefix. */
export function checkJobKey(key: unknown): string {
  return CHECK_KEY_PREFIX + validateIdentifier(key, "key", MAX_KEY_LENGTH - CHECK_KEY_PREFIX.length);
}

export function userKeyOf(jobKey: string | null): string {
  return jobKey?.startsWith(CHECK_KEY_PREFIX) ? jobKey.slice(CHECK_KEY_PREFIX.length) : (jobKey ?? "");
}

export function outcomeJobKey(checkId: string): string {
  return OUTCOME_KEY_PREFIX + checkId;
}

export function newProbeJob(
  queue: string,
  key: string,
  payload: string,
  firstDelayMs: number,
  group: string | null,
): NewJob {
  return {
    queue,
    key: checkJobKey(key),
    payload,
    when: { delayMs: firstDelayMs },
    maxAttempts: CHECK_JOB_ATTEMPTS,
    backoff: DEFAULT_BACKOFF,
    onDuplicate: "keep",
    group,
  };
}
