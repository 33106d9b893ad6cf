import { checkGroupPriority, resolveGroup } from "../flow/groups.js";
import { resolvePriority } from "../flow/priority.js";
import { type BackoffOption, type BackoffPolicy, resolveBackoff } from "./backoff.js";
import { describeValue } from "./describe.js";
import { type Duration, MAX_DURATION_MS, parseDuration } from "./duration.js";
import { invalidOption } from "./errors.js";
import { MAX_KEY_LENGTH, MAX_NAME_LENGTH, validateIdentifier, validateName } from "./text.js";
import type { When } from "./when.js";

/** Options for adding one job. `delay` is a duration from now; `runAt` an instant. */
export interface AddOptions {
  delay?: Duration;
  runAt?: number | Date;
  /** Business key, unique among the queue's unfinished jobs (e.g. an out_trade_no). */
  key?: string;
  /** When an unfinished job holds `key`: false (default) keeps it, true replaces a scheduled one. */
  replace?: boolean;
  /** Attempts before the job goes dead (default 3). */
  attempts?: number;
  backoff?: BackoffOption;
  /** Order among due jobs, MIN_PRIORITY..MAX_PRIORITY (−10..10), higher first; 0 by default (see flow/priority.ts). */
  priority?: number;
  /**
   * The job's group (a merchant, a user, a gateway): groups take turns and may have their own
   * concurrency, rate limit and pause (docs/flow-control.md). A grouped job has priority 0.
   */
  group?: string | null;
}

export interface JobDefaults {
  attempts?: number;
  backoff?: BackoffOption;
}

export const DEFAULT_ATTEMPTS = 3;
export const MAX_ATTEMPTS = 10_000;

const ADD_OPTION_NAMES = new Set(["delay", "runAt", "key", "replace", "attempts", "backoff", "priority", "group"]);

export interface ResolvedAddOptions {
  when: When;
  key: string | null;
  onDuplicate: "keep" | "replace";
  maxAttempts: number;
  backoff: BackoffPolicy;
  priority: number;
  group: string | null;
}

export function resolveAddOptions(options: AddOptions | undefined, defaults: JobDefaults = {}): ResolvedAddOptions {
  const opts = options ?? {};
  if (typeof opts !== "object" || opts === null || Array.isArray(opts))
    throw invalidOption("options must be an object");
  rejectUnknown(opts, ADD_OPTION_NAMES, "add");
  if (opts.delay !== undefined && opts.runAt !== undefined) throw invalidOption("give delay or runAt, not both");
  const priority = resolvePriority(opts.priority);
  const group = resolveGroup(opts.group);
  checkGroupPriority(group, priority);
  return {
    when: resolveWhen(opts.delay, opts.runAt),
    key: resolveKey(opts.key),
    onDuplicate: resolveReplace(opts.replace),
    maxAttempts: resolveAttempts(opts.attempts ?? defaults.attempts ?? DEFAULT_ATTEMPTS),
    backoff: resolveBackoff(opts.backoff ?? defaults.backoff),
    priority,
    group,
  };
}

export function resolveWhen(delay: Duration | undefined, runAt: number | Date | undefined): When {
  if (runAt !== undefined) return { runAt: resolveInstant(runAt) };
  return { delayMs: delay === undefined ? 0 : parseDuration(delay, "delay") };
}

/**
 * The latest instant accepted: as far ahead as the longest delay. Checked against this process's
 * clock, which is close enough to any store's for a bound measured in a century, and which keeps
 * every instant a store is given far inside what its columns and scores hold (bigint, Redis
 * doubles, packed fields).
 */
export function latestInstant(): number {
  return Date.now() + MAX_DURATION_MS;
}

export function resolveInstant(runAt: unknown, field = "runAt"): number {
  const ms = runAt instanceof Date ? runAt.getTime() : runAt;
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) {
    throw invalidOption(`${field} must be a Date or epoch milliseconds, got ${describeValue(runAt)}`, {
      field,
      value: runAt,
    });
  }
  if (ms > latestInstant()) {
    throw invalidOption(`${field} ${describeValue(runAt)} is more than 100 years from now`, { field, value: ms });
  }
  return Math.round(ms);
}

function resolveKey(key: unknown): string | null {
  if (key === undefined || key === null) return null;
  return validateIdentifier(key, "key", MAX_KEY_LENGTH);
}

function resolveReplace(replace: unknown): "keep" | "replace" {
  if (replace === undefined) return "keep";
  if (typeof replace !== "boolean") throw invalidOption("replace must be a boolean", { replace });
  return replace ? "replace" : "keep";
}

export function resolveAttempts(attempts: unknown): number {
  if (typeof attempts !== "number" || !Number.isInteger(attempts) || attempts < 1 || attempts > MAX_ATTEMPTS) {
    throw invalidOption(`attempts must be an integer from 1 to ${MAX_ATTEMPTS}`, { attempts });
  }
  return attempts;
}

export function rejectUnknown(options: object, known: Set<string>, where: string): void {
  for (const name of Object.keys(options)) {
    if (!known.has(name)) {
      throw invalidOption(`unknown ${where} option ${describeValue(name)} (known: ${[...known].join(", ")})`);
    }
  }
}

/** Queue/worker names: printable, no whitespace, so they are safe in store keys, URLs and metrics. */
export function validateQueueName(name: unknown): string {
  return validateName(name, "queue name", MAX_NAME_LENGTH);
}
