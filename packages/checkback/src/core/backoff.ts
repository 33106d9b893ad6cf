import { describeValue } from "./describe.js";
import { type Duration, parseDuration } from "./duration.js";
import { invalidOption } from "./errors.js";

/**
 * How long a failed job waits before its next attempt.
 *
 * Users write any of:
 *   "30s" | 30_000                           fixed
 *   ["10s", "1m", "10m"]                     a list; the last interval repeats
 *   { type: "fixed", delay: "30s" }
 *   { type: "exponential", delay: "1s", factor: 2, max: "1h", jitter: 0.2 }
 *   { type: "list", delays: ["10s", "1m"] }
 *
 * It is resolved once, at add time, into a plain-millisecond BackoffPolicy that travels with
 * the job, so a retry is computed the same way whichever process fails the job.
 */
export type BackoffOption =
  | Duration
  | Duration[]
  | { type: "fixed"; delay: Duration; jitter?: number }
  | { type: "exponential"; delay: Duration; factor?: number; max?: Duration; jitter?: number }
  | { type: "list"; delays: Duration[]; jitter?: number };

export type BackoffPolicy =
  | { type: "fixed"; delayMs: number; jitter: number }
  | { type: "exponential"; delayMs: number; factor: number; maxMs: number; jitter: number }
  | { type: "list"; delaysMs: number[]; jitter: number };

export const DEFAULT_BACKOFF: Extract<BackoffPolicy, { type: "exponential" }> = {
  type: "exponential",
  delayMs: 1_000,
  factor: 2,
  maxMs: 3_600_000,
  jitter: 0.2,
};

export function resolveBackoff(option: BackoffOption | undefined): BackoffPolicy {
  if (option === undefined) return DEFAULT_BACKOFF;
  if (typeof option === "number" || typeof option === "string") {
    return { type: "fixed", delayMs: parseDuration(option, "backoff"), jitter: 0 };
  }
  if (Array.isArray(option)) return listPolicy(option, 0);
  if (typeof option !== "object" || option === null)
    throw invalidOption("backoff must be a duration, a list or an object");
  const jitter = resolveJitter((option as { jitter?: unknown }).jitter);
  switch (option.type) {
    case "fixed":
      return { type: "fixed", delayMs: parseDuration(option.delay, "backoff.delay"), jitter };
    case "exponential": {
      const factor = option.factor ?? 2;
      if (typeof factor !== "number" || !Number.isFinite(factor) || factor < 1) {
        throw invalidOption("backoff.factor must be a number ≥ 1", { factor });
      }
      const delayMs = parseDuration(option.delay, "backoff.delay");
      const maxMs = option.max === undefined ? DEFAULT_BACKOFF.maxMs : parseDuration(option.max, "backoff.max");
      if (maxMs < delayMs) throw invalidOption("backoff.max must not be shorter than backoff.delay");
      return { type: "exponential", delayMs, factor, maxMs, jitter };
    }
    case "list":
      return listPolicy(option.delays, jitter);
    default:
      throw invalidOption(`unknown backoff type ${describeValue((option as { type?: unknown }).type)}`);
  }
}

function listPolicy(delays: unknown, jitter: number): BackoffPolicy {
  if (!Array.isArray(delays) || delays.length === 0) throw invalidOption("a backoff list needs at least one interval");
  return { type: "list", delaysMs: delays.map((d, i) => parseDuration(d as Duration, `backoff[${i}]`)), jitter };
}

function resolveJitter(value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
    throw invalidOption("backoff.jitter must be a fraction between 0 and 1", { jitter: value });
  }
  return value;
}

/**
 * The wait before the next attempt, after `failedAttempts` failures (1 after the first).
 * Jitter spreads retries of many jobs that failed together (a gateway outage) so they do not
 * all come back in the same millisecond: the wait is drawn from [d·(1−jitter), d].
 */
export function retryDelay(policy: BackoffPolicy, failedAttempts: number, random: () => number = Math.random): number {
  const n = Math.max(1, failedAttempts);
  let base: number;
  switch (policy.type) {
    case "fixed":
      base = policy.delayMs;
      break;
    case "exponential":
      base = Math.min(policy.maxMs, policy.delayMs * policy.factor ** (n - 1));
      break;
    case "list":
      base = policy.delaysMs[Math.min(n, policy.delaysMs.length) - 1]!;
      break;
  }
  if (policy.jitter === 0) return base;
  return Math.round(base * (1 - policy.jitter * random()));
}
