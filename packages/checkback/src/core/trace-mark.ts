/**
 * A job's trace context travels in its payload text, ahead of the JSON:
 *
 *     \u001e00-<trace id>-<span id>-<flags>\u001e{"the":"payload"}
 *
 * JSON text never starts with U+001E (record separator), so a marked payload cannot be taken
 * for an unmarked one, and an unmarked payload — every job added without an active trace, or
 * without @opentelemetry/api installed — is byte for byte what it always was. Stores never
 * parse payloads, so every store keeps the mark with no schema change, and it goes wherever the
 * payload goes (a replaced job takes the new producer's, a redriven job keeps its own).
 * Payloads are read back through parsePayload, which drops the mark.
 */
const MARK = "\u001e";
const MARK_CODE = 0x1e;

export function markTrace(traceparent: string, payload: string): string {
  return MARK + traceparent + MARK + payload;
}

/** The traceparent a payload text carries, or null. */
export function traceOf(payload: string): string | null {
  if (payload.charCodeAt(0) !== MARK_CODE) return null;
  const end = payload.indexOf(MARK, 1);
  return end < 0 ? null : payload.slice(1, end);
}

/** The JSON text without its mark. */
export function unmarked(payload: string): string {
  if (payload.charCodeAt(0) !== MARK_CODE) return payload;
  const end = payload.indexOf(MARK, 1);
  return end < 0 ? payload : payload.slice(end + 1);
}

/** `next` with the mark `previous` carried (a check's next probe keeps its trace). */
export function carryTrace(previous: string, next: string): string {
  const traceparent = traceOf(previous);
  return traceparent === null ? next : markTrace(traceparent, next);
}
