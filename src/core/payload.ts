import { PayloadTooLargeError, ValidationError } from "./errors.js";

export const DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024;

/**
 * Serializes a payload once, at the edge, so stores only ever see JSON text. Values JSON cannot
 * carry faithfully (undefined, functions, symbols, BigInt, cycles) are refused rather than
 * silently turned into something else.
 */
export function serializePayload(payload: unknown, maxBytes: number): string {
  if (payload === undefined || typeof payload === "function" || typeof payload === "symbol") {
    throw new ValidationError("INVALID_PAYLOAD", `a payload must be JSON-serializable, got ${typeof payload}`);
  }
  let text: string;
  try {
    text = JSON.stringify(payload);
  } catch (error) {
    throw new ValidationError("INVALID_PAYLOAD", `payload is not JSON-serializable: ${(error as Error).message}`);
  }
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > maxBytes) throw new PayloadTooLargeError(bytes, maxBytes);
  return text;
}

export function parsePayload<T>(text: string): T {
  return JSON.parse(text) as T;
}
