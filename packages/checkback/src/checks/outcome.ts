import type { NewJob } from "../stores/store.js";
import type { ActiveJob } from "../worker/leased-job.js";
import type { ResolvedDefinition } from "./definition.js";
import { type Ending, type OutcomePayload, outcomeJobKey, type StoredOutcome } from "./jobs.js";
import type { CheckOutcome } from "./types.js";

/**
 * The outcome job that hands a check's end to onDone / onFailed / onGaveUp. It is only ever
 * added together with the completion of the check's probe job (Store.complete / settle with
 * `enqueue`), so it exists if and only if the check ended that way, once.
 */
export function newOutcomeJob<I, R>(
  queue: string,
  definition: ResolvedDefinition<I, R>,
  outcome: StoredOutcome<I, R>,
): NewJob {
  const payload: OutcomePayload<I, R> = { kind: "outcome", outcome };
  return {
    queue,
    key: outcomeJobKey(outcome.checkId),
    payload: JSON.stringify(payload),
    when: { delayMs: 0 },
    maxAttempts: definition.outcomeAttempts,
    backoff: definition.outcomeBackoff,
    onDuplicate: "keep",
  };
}

export function outcomeOf<I, R>(
  ending: Ending<R>,
  facts: { checkId: string; key: string; input: I; probes: number },
): StoredOutcome<I, R> {
  return { ...facts, ...ending };
}

/** Runs the handler for one outcome; a throw fails the attempt and the worker retries it. */
export async function deliverOutcome<I, R>(
  name: string,
  definition: ResolvedDefinition<I, R>,
  job: ActiveJob<OutcomePayload<I, R>>,
): Promise<unknown> {
  const outcome = { name, ...job.payload.outcome, endedAt: job.createdAt } as CheckOutcome<I, R>;
  const handler = definition.handlers[outcome.state] as
    | ((outcome: CheckOutcome<I, R>, context: { attempt: number; maxAttempts: number; signal: AbortSignal }) => unknown)
    | undefined;
  if (!handler) return null;
  const value = await handler(outcome, { attempt: job.attempts, maxAttempts: job.maxAttempts, signal: job.signal });
  return value === undefined ? null : value;
}
