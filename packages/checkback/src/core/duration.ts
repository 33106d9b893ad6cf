import { describeValue } from "./describe.js";
import { ValidationError } from "./errors.js";

/**
 * A Duration is a length of time: milliseconds as a number, or a string such as "250ms",
 * "30s", "15m", "2h", "7d" (compound forms like "1h30m" too). A Duration is never an instant;
 * instants are `runAt` values (epoch milliseconds or Date).
 */
export type Duration = number | string;

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;

/** The longest duration we accept: about 100 years, far beyond any sane delay. */
export const MAX_DURATION_MS = 100 * 365 * UNIT_MS.d!;

export function parseDuration(value: Duration, what = "duration"): number {
  let ms: number;
  if (typeof value === "number") {
    ms = value;
  } else if (typeof value === "string") {
    ms = parseDurationString(value.trim(), what);
  } else {
    throw invalid(what, value, 'must be milliseconds or a string like "30s"');
  }
  if (!Number.isFinite(ms) || ms < 0) throw invalid(what, value, "must be a finite, non-negative length");
  if (ms > MAX_DURATION_MS) throw invalid(what, value, "is longer than 100 years");
  return Math.round(ms);
}

function parseDurationString(text: string, what: string): number {
  if (text === "") throw invalid(what, text, "is empty");
  if (/^\d+$/.test(text)) return Number(text);
  PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let match = PART.exec(text); match; match = PART.exec(text)) {
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
    consumed = PART.lastIndex;
  }
  if (consumed !== text.length) {
    throw invalid(what, text, "must look like 250ms, 30s, 15m, 2h, 7d or 1h30m");
  }
  return total;
}

function invalid(what: string, value: unknown, why: string): ValidationError {
  return new ValidationError("INVALID_DURATION", `${what} ${describeValue(value)} ${why}`, { field: what, value });
}

/** Human form of a duration, for logs and CLI output ("1h30m", "250ms"). */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3_600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join("");
}
