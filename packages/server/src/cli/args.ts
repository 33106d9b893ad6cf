import { type JobState, parseDuration } from "checkback";
import { JOB_STATES, validateQueueName } from "checkback/internal";
import { InvalidArgumentError } from "commander";

/**
 * Parsers for option and argument values. They run while commander parses the command line,
 * so a bad value is reported as a usage error (exit code 2) before any request is sent.
 */

/** A duration as the user typed it ("30s", "1h30m", "250ms", or plain milliseconds). */
export function durationArg(value: string): string | number {
  try {
    parseDuration(value);
  } catch (error) {
    // The core message names the value ('duration "3x" must look like…'); commander already does.
    throw new InvalidArgumentError((error as Error).message.replace(/^duration ".*?" /, "it "));
  }
  // Plain digits travel as milliseconds; anything else as the text, which the server parses
  // with the same rules we just checked.
  return /^\d+$/.test(value.trim()) ? Number(value) : value.trim();
}

/** An instant: an ISO 8601 date ("2026-12-01T09:00:00Z") or epoch milliseconds. */
export function instantArg(value: string): number {
  const text = value.trim();
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms) || ms < 0) {
    throw new InvalidArgumentError("not an instant: give an ISO date like 2026-12-01T09:00:00Z or epoch milliseconds");
  }
  return ms;
}

export function positiveIntArg(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError("must be a whole number ≥ 1");
  }
  return n;
}

/** A whole number from 1 to `max` (page sizes, chunk sizes: the server caps them). */
export function boundedIntArg(max: number): (value: string) => number {
  return (value) => {
    const n = positiveIntArg(value);
    if (n > max) throw new InvalidArgumentError(`must be at most ${max}`);
    return n;
  };
}

export function countArg(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n))
    throw new InvalidArgumentError("must be a whole number ≥ 0");
  return n;
}

export function stateArg(value: string): JobState {
  if (!(JOB_STATES as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`must be one of ${JOB_STATES.join(", ")}`);
  }
  return value as JobState;
}

export function queueArg(value: string): string {
  try {
    return validateQueueName(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** The server's base URL: http or https, nothing else (a bare "host:port" is a common slip). */
export function urlArg(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError("give a URL like http://127.0.0.1:8787");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new InvalidArgumentError("give an http:// or https:// URL, like http://127.0.0.1:8787");
  }
  return value;
}

/** Any JSON value: a payload, or a back-off given as JSON. */
export function jsonArg(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    throw new InvalidArgumentError(`not valid JSON (quote strings: '"text"')`);
  }
}

/**
 * A back-off: a duration ("30s"), or JSON for the other forms
 * ('["10s","1m"]', '{"type":"exponential","delay":"1s","max":"1h"}').
 */
export function backoffArg(value: string): unknown {
  const text = value.trim();
  if (text.startsWith("[") || text.startsWith("{")) return jsonArg(text);
  return durationArg(text);
}
