import { Cron } from "croner";
import { type BackoffOption, type BackoffPolicy, resolveBackoff } from "../core/backoff.js";
import { describeValue } from "../core/describe.js";
import { type Duration, parseDuration } from "../core/duration.js";
import { CheckbackError, invalidOption } from "../core/errors.js";
import {
  DEFAULT_ATTEMPTS,
  rejectUnknown,
  resolveAttempts,
  resolveInstant,
  validateQueueName,
} from "../core/options.js";
import { parsePayload, serializePayload } from "../core/payload.js";
import { MAX_NAME_LENGTH, validateName } from "../core/text.js";

/** What happens to ticks that passed while no process ran the schedule (see ticker.ts). */
export type MissedPolicy = "skip" | "latest" | "all";

/** A schedule as the library user writes it. Give `cron` or `every`, not both. */
export interface ScheduleDefinition<T = unknown> {
  /**
   * A cron expression: 5 fields (minute precision), 6 (seconds first) or 7 (with a year);
   * `L`, `W`, `#`, names and nicknames such as `@daily` as croner reads them.
   */
  cron?: string;
  /** An IANA time zone the cron expression is read in (default "UTC"). Cron only. */
  timezone?: string;
  /** A fixed interval, at least 1 s; ticks fall on `start` + k × every (epoch + k × every without a start). */
  every?: Duration;
  /** The payload every firing carries (JSON). */
  payload?: T;
  /** No tick before this instant. */
  start?: number | Date;
  /** No tick after this instant; once passed, the schedule has ended. */
  end?: number | Date;
  /** Ticks missed while every process was down: "skip", "latest" (default: run the latest once) or "all". */
  missed?: MissedPolicy;
  /** With `missed: "all"`: at most this many missed ticks are run, the latest ones (1–1000, default 100). */
  maxMissed?: number;
  /** The queue firings go to (a schedule with a library handler defaults to `schedule.<name>`). */
  queue?: string;
  /** Attempts and back-off of each firing job (defaults as for any job). */
  attempts?: number;
  backoff?: BackoffOption;
}

/**
 * A definition as stored in the schedule's ticker job and shown by get/list/HTTP: plain JSON,
 * every default filled in, so two processes defining the same schedule store the same text.
 */
export interface StoredDefinition {
  cron: string | null;
  timezone: string | null;
  /** Interval in ms, or null for a cron schedule. */
  everyMs: number | null;
  payload: unknown;
  start: number | null;
  end: number | null;
  missed: MissedPolicy;
  maxMissed: number;
  queue: string;
  attempts: number;
  backoff: BackoffPolicy;
}

/** A schedule's internal firing queue prefix (library-handler schedules): `schedule.<name>`. */
export const SCHEDULE_QUEUE_PREFIX = "schedule.";
/** Every schedule's ticker job lives here, keyed by the schedule's name. */
export const SCHEDULES_QUEUE = "_schedules";
export const MAX_SCHEDULE_NAME_LENGTH = MAX_NAME_LENGTH - SCHEDULE_QUEUE_PREFIX.length;
export const MIN_INTERVAL_MS = 1_000;
export const MAX_MISSED = 1_000;
export const DEFAULT_MAX_MISSED = 100;
const POLICIES: readonly MissedPolicy[] = ["skip", "latest", "all"];
const FIELDS = new Set([
  "cron",
  "timezone",
  "every",
  "payload",
  "start",
  "end",
  "missed",
  "maxMissed",
  "queue",
  "attempts",
  "backoff",
]);

export function validateScheduleName(name: unknown): string {
  return validateName(name, "schedule name", MAX_SCHEDULE_NAME_LENGTH);
}

export function scheduleQueueName(name: string): string {
  return SCHEDULE_QUEUE_PREFIX + validateScheduleName(name);
}

/**
 * Checks a definition and fills in its defaults; every refusal is INVALID_OPTION (or
 * INVALID_DURATION for `every`) with `details.field` naming the field, before anything is stored.
 */
export function resolveScheduleDefinition(
  input: ScheduleDefinition,
  defaultQueue: string | null,
  maxPayloadBytes: number,
): StoredDefinition {
  if (typeof input !== "object" || input === null || Array.isArray(input))
    throw invalidOption("a schedule definition is an object", { field: "definition" });
  rejectUnknown(input, FIELDS, "schedule");
  const hasCron = input.cron !== undefined;
  const hasEvery = input.every !== undefined;
  if (hasCron === hasEvery) throw fieldError("cron", "give cron or every (one of them)", input.cron);

  let cron: string | null = null;
  let timezone: string | null = null;
  let everyMs: number | null = null;
  if (hasCron) {
    timezone = input.timezone === undefined ? "UTC" : validateTimezone(input.timezone);
    cron = validateCron(input.cron, timezone);
  } else {
    if (input.timezone !== undefined) throw fieldError("timezone", "a time zone applies to cron schedules only");
    everyMs = field("every", () => parseDuration(input.every as Duration, "every"));
    if (everyMs < MIN_INTERVAL_MS) throw fieldError("every", "every must be at least 1s", input.every);
  }
  const start = input.start === undefined || input.start === null ? null : resolveInstant(input.start, "start");
  const end = input.end === undefined || input.end === null ? null : resolveInstant(input.end, "end");
  if (start !== null && end !== null && end < start) throw fieldError("end", "end is before start", input.end);

  const missed = input.missed ?? "latest";
  if (!POLICIES.includes(missed)) throw fieldError("missed", `missed must be one of ${POLICIES.join(", ")}`, missed);
  const maxMissed = input.maxMissed ?? DEFAULT_MAX_MISSED;
  if (!Number.isInteger(maxMissed) || maxMissed < 1 || maxMissed > MAX_MISSED)
    throw fieldError("maxMissed", `maxMissed must be an integer from 1 to ${MAX_MISSED}`, maxMissed);

  const queue = field("queue", () => {
    if (input.queue !== undefined) return validateQueueName(input.queue);
    if (defaultQueue === null) throw invalidOption("a schedule needs a target queue (or a handler)");
    return defaultQueue;
  });
  const attempts = field("attempts", () => resolveAttempts(input.attempts ?? DEFAULT_ATTEMPTS));
  const backoff = field("backoff", () => resolveBackoff(input.backoff));
  // Stored as the JSON it becomes, so a Date is its ISO text in every process alike.
  const payload = field("payload", () =>
    parsePayload<unknown>(serializePayload(input.payload ?? null, maxPayloadBytes)),
  );
  return { cron, timezone, everyMs, payload, start, end, missed, maxMissed, queue, attempts, backoff };
}

/** Same definition, same text: how define() tells "unchanged" from "updated". */
export function sameDefinition(a: StoredDefinition, b: StoredDefinition): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function validateTimezone(timezone: unknown): string {
  if (typeof timezone !== "string" || timezone.length === 0 || timezone.length > 64)
    throw fieldError("timezone", "timezone must be an IANA time zone name", timezone);
  try {
    // Resolves the canonical spelling ("europe/berlin" → "Europe/Berlin"), so both define the same.
    return new Intl.DateTimeFormat("en-US", { timeZone: timezone }).resolvedOptions().timeZone;
  } catch {
    throw fieldError("timezone", `unknown time zone ${describeValue(timezone)}`, timezone);
  }
}

function validateCron(cron: unknown, timezone: string): string {
  if (typeof cron !== "string" || cron.trim().length === 0 || cron.length > 256)
    throw fieldError("cron", "cron must be a cron expression", cron);
  const text = cron.trim().replace(/\s+/g, " ");
  try {
    // nextRun also proves the expression can ever fire ("0 0 30 2 *" cannot).
    const next = new Cron(text, { timezone }).nextRun(new Date(0));
    if (next === null) throw new Error("it never fires");
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw fieldError("cron", `invalid cron expression ${describeValue(cron)}: ${reason}`, cron);
  }
  return text;
}

function fieldError(field: string, message: string, value?: unknown) {
  return invalidOption(message, value === undefined ? { field } : { field, value });
}

/** Runs a library check, making sure its refusal names `name` as the field. */
function field<T>(name: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof CheckbackError && error.code.startsWith("INVALID")) {
      throw new (error.constructor as typeof CheckbackError)(error.code, error.message, {
        ...error.details,
        field: name,
      });
    }
    throw error;
  }
}
