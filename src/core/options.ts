import type { When } from "../stores/store.js";
import { type BackoffOption, type BackoffPolicy, resolveBackoff } from "./backoff.js";
import { type Duration, parseDuration } from "./duration.js";
import { invalidOption } from "./errors.js";

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
}

export interface JobDefaults {
  attempts?: number;
  backoff?: BackoffOption;
}

export const DEFAULT_ATTEMPTS = 3;
export const MAX_ATTEMPTS = 10_000;
export const MAX_KEY_LENGTH = 512;

const ADD_OPTION_NAMES = new Set(["delay", "runAt", "key", "replace", "attempts", "backoff"]);

export interface ResolvedAddOptions {
  when: When;
  key: string | null;
  onDuplicate: "keep" | "replace";
  maxAttempts: number;
  backoff: BackoffPolicy;
}

export function resolveAddOptions(options: AddOptions | undefined, defaults: JobDefaults = {}): ResolvedAddOptions {
  const opts = options ?? {};
  if (typeof opts !== "object" || opts === null || Array.isArray(opts))
    throw invalidOption("options must be an object");
  rejectUnknown(opts, ADD_OPTION_NAMES, "add");
  if (opts.delay !== undefined && opts.runAt !== undefined) throw invalidOption("give delay or runAt, not both");
  return {
    when: resolveWhen(opts.delay, opts.runAt),
    key: resolveKey(opts.key),
    onDuplicate: resolveReplace(opts.replace),
    maxAttempts: resolveAttempts(opts.attempts ?? defaults.attempts ?? DEFAULT_ATTEMPTS),
    backoff: resolveBackoff(opts.backoff ?? defaults.backoff),
  };
}

export function resolveWhen(delay: Duration | undefined, runAt: number | Date | undefined): When {
  if (runAt !== undefined) return { runAt: resolveInstant(runAt) };
  return { delayMs: delay === undefined ? 0 : parseDuration(delay, "delay") };
}

export function resolveInstant(runAt: unknown): number {
  const ms = runAt instanceof Date ? runAt.getTime() : runAt;
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) {
    throw invalidOption("runAt must be a Date or epoch milliseconds", { runAt });
  }
  return Math.round(ms);
}

function resolveKey(key: unknown): string | null {
  if (key === undefined || key === null) return null;
  if (typeof key !== "string" || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw invalidOption(`key must be a non-empty string of at most ${MAX_KEY_LENGTH} characters`, { key });
  }
  return key;
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
      throw invalidOption(`unknown ${where} option ${JSON.stringify(name)} (known: ${[...known].join(", ")})`);
    }
  }
}

/** Queue/worker names: printable, no whitespace, so they are safe in store keys, URLs and metrics. */
export function validateQueueName(name: unknown): string {
  if (typeof name !== "string" || !/^[A-Za-z0-9_.:-]{1,128}$/.test(name)) {
    throw invalidOption("a queue name is 1–128 characters of letters, digits, _ . : -", { name });
  }
  return name;
}
