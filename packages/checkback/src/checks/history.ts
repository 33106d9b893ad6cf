import type { ProbeRecord } from "./types.js";

/**
 * A check keeps its last probes in its own payload. The cap bounds the payload (and the JSON
 * parsed and written at each probe) for checks that probe for a long time; `probes` in the
 * payload still counts them all.
 */
export const HISTORY_LIMIT = 100;
const MAX_ERROR_LENGTH = 500;

export function appendHistory(history: readonly ProbeRecord[], record: ProbeRecord): ProbeRecord[] {
  const next = history.length >= HISTORY_LIMIT ? history.slice(history.length - HISTORY_LIMIT + 1) : [...history];
  next.push(record);
  return next;
}

export function errorRecord(at: number, error: unknown): ProbeRecord {
  const message = error instanceof Error ? error.message || error.name : String(error);
  return {
    at,
    answer: "error",
    error: message.length > MAX_ERROR_LENGTH ? `${message.slice(0, MAX_ERROR_LENGTH)}…` : message,
  };
}
