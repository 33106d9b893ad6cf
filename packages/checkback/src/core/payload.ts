import { describeValue } from "./describe.js";
import { PayloadTooLargeError, ValidationError } from "./errors.js";
import { unmarked } from "./trace-mark.js";

export const DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024;

/**
 * Serializes a payload once, at the edge, so stores only ever see JSON text. Values JSON cannot
 * carry faithfully are refused rather than silently turned into something else, at any depth:
 * undefined, functions and symbols (JSON.stringify would drop them from objects and turn them
 * into null in arrays), NaN and ±Infinity (null), BigInt, cycles. A value with toJSON (a Date)
 * is judged by what toJSON returns.
 *
 * Strings are carried whatever they hold: JSON escapes NUL and unpaired surrogates, so the text
 * a store keeps is plain ASCII there and every store gives back exactly what was sent.
 *
 * `what` names the value in errors: "payload", or "result" for a handler's return value.
 */
export function serializePayload(payload: unknown, maxBytes: number, what = "payload"): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(payload, refuseLossy);
  } catch (error) {
    if (error instanceof LossyValue) {
      const at = error.key === "" ? what : `${what} key ${describeValue(error.key)}`;
      throw new ValidationError("INVALID_PAYLOAD", `${at} is ${error.kind}, which JSON cannot carry`, {
        field: what,
        key: error.key,
      });
    }
    throw new ValidationError("INVALID_PAYLOAD", `${what} is not JSON-serializable: ${describeError(error)}`, {
      field: what,
    });
  }
  if (text === undefined) {
    throw new ValidationError("INVALID_PAYLOAD", `a ${what} must be JSON-serializable, got ${typeof payload}`);
  }
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > maxBytes) throw new PayloadTooLargeError(bytes, maxBytes, what);
  return text;
}

/** Parses a payload as a store keeps it (a trace mark, if any, is dropped: core/trace-mark.ts). */
export function parsePayload<T>(text: string): T {
  return JSON.parse(unmarked(text)) as T;
}

class LossyValue extends Error {
  constructor(
    readonly key: string,
    readonly kind: string,
  ) {
    super(kind);
  }
}

function refuseLossy(key: string, value: unknown): unknown {
  switch (typeof value) {
    case "undefined":
      throw new LossyValue(key, "undefined");
    case "function":
      throw new LossyValue(key, "a function");
    case "symbol":
      throw new LossyValue(key, "a symbol");
    case "number":
      if (!Number.isFinite(value)) throw new LossyValue(key, String(value));
      return value;
    case "bigint":
      throw new LossyValue(key, "a BigInt");
  }
  return value;
}

function describeError(error: unknown): string {
  // A cycle is a TypeError; a structure nested too deep for the stack is a RangeError.
  if (error instanceof RangeError) return "nested too deep";
  return error instanceof Error ? error.message : describeValue(error);
}
