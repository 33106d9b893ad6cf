import { type BackoffPolicy, resolveBackoff } from "../core/backoff.js";
import { type Duration, parseDuration } from "../core/duration.js";
import { invalidOption } from "../core/errors.js";
import { rejectUnknown, resolveAttempts } from "../core/options.js";
import { resolveGroup } from "../flow/groups.js";
import { type RateLimit, resolveRateLimit } from "../flow/rate-limit.js";
import type { WorkerOptions } from "../worker/options.js";
import { type ResolvedSchedule, resolveSchedule } from "./schedule.js";
import type { CheckDefinition } from "./types.js";

const DEFINITION_NAMES = new Set([
  "schedule",
  "deadline",
  "probe",
  "onDone",
  "onFailed",
  "onGaveUp",
  "probeTimeout",
  "outcomeRetry",
  "worker",
  "probeRate",
  "group",
]);

export const DEFAULT_PROBE_TIMEOUT_MS = 30_000;
export const DEFAULT_OUTCOME_ATTEMPTS = 10;
export const DEFAULT_CHECK_CONCURRENCY = 10;

/** Outcome delivery backs off from 5 s to an hour: the receiving service may be down for a while. */
const DEFAULT_OUTCOME_BACKOFF: BackoffPolicy = {
  type: "exponential",
  delayMs: 5_000,
  factor: 2,
  maxMs: 3_600_000,
  jitter: 0.2,
};

/** A definition checked once, at `check()`, with durations in milliseconds. */
export interface ResolvedDefinition<I, R> {
  schedule: ResolvedSchedule;
  deadlineMs: number | null;
  probe: CheckDefinition<I, R>["probe"];
  handlers: {
    done: CheckDefinition<I, R>["onDone"];
    failed: CheckDefinition<I, R>["onFailed"];
    gave_up: CheckDefinition<I, R>["onGaveUp"];
  };
  probeTimeoutMs: number;
  outcomeAttempts: number;
  outcomeBackoff: BackoffPolicy;
  worker: WorkerOptions | false;
  /**
   * The rate limit to keep — the check queue's, or its group's when `group` is set: set, lifted
   * (null), or left as it is (undefined).
   */
  probeRate: RateLimit | null | undefined;
  /** The group every probe job of the check is added to; null for none. */
  group: string | null;
}

export function resolveDefinition<I, R>(definition: CheckDefinition<I, R>): ResolvedDefinition<I, R> {
  if (typeof definition !== "object" || definition === null)
    throw invalidOption("a check definition must be an object");
  rejectUnknown(definition, DEFINITION_NAMES, "check");
  if (typeof definition.probe !== "function") throw invalidOption("a check needs a probe function");
  for (const name of ["onDone", "onFailed", "onGaveUp"] as const) {
    if (definition[name] !== undefined && typeof definition[name] !== "function") {
      throw invalidOption(`${name} must be a function`);
    }
  }
  if (definition.schedule === undefined) throw invalidOption("a check needs a schedule");
  const deadlineMs = definition.deadline === undefined ? null : parseDuration(definition.deadline, "deadline");
  if (deadlineMs === 0) throw invalidOption("deadline must be longer than 0");
  const probeTimeoutMs = optionalDuration(definition.probeTimeout, "probeTimeout") ?? DEFAULT_PROBE_TIMEOUT_MS;
  if (probeTimeoutMs === 0) throw invalidOption("probeTimeout must be longer than 0");
  const retry = definition.outcomeRetry ?? {};
  if (typeof retry !== "object" || retry === null) throw invalidOption("outcomeRetry must be { attempts?, backoff? }");
  rejectUnknown(retry, new Set(["attempts", "backoff"]), "outcomeRetry");
  const worker = definition.worker ?? {};
  if (worker !== false && (typeof worker !== "object" || worker === null)) {
    throw invalidOption("worker must be worker options or false");
  }
  // Probes mostly wait on the other party's network: run several at once unless told otherwise.
  const workerOptions = worker === false ? false : { concurrency: DEFAULT_CHECK_CONCURRENCY, ...worker };
  return {
    schedule: resolveSchedule(definition.schedule, deadlineMs !== null),
    deadlineMs,
    probe: definition.probe,
    handlers: { done: definition.onDone, failed: definition.onFailed, gave_up: definition.onGaveUp },
    probeTimeoutMs,
    outcomeAttempts: resolveAttempts(retry.attempts ?? DEFAULT_OUTCOME_ATTEMPTS),
    outcomeBackoff: retry.backoff === undefined ? DEFAULT_OUTCOME_BACKOFF : resolveBackoff(retry.backoff),
    worker: workerOptions,
    probeRate: definition.probeRate === undefined ? undefined : resolveRateLimit(definition.probeRate),
    group: resolveGroup(definition.group),
  };
}

function optionalDuration(value: Duration | undefined, what: string): number | undefined {
  return value === undefined ? undefined : parseDuration(value, what);
}
