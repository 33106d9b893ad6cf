import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Push requests are signed so a receiver can tell they came from this server and were not
 * replayed later. The header is
 *
 *   checkback-signature: t=<unix ms>,v1=<hex HMAC-SHA256(secret, `${t}.${body}`)>
 *
 * The timestamp is inside the signed text, so an old request cannot be re-sent with a fresh
 * timestamp; the receiver rejects timestamps outside its tolerance. This module has no other
 * dependency so receivers written in TypeScript can import it as is.
 */
export const SIGNATURE_HEADER = "checkback-signature";

/** How far a request's timestamp may be from the receiver's clock (default 5 minutes). */
export const DEFAULT_SIGNATURE_TOLERANCE_MS = 5 * 60_000;

export function signatureFor(secret: string, body: string, timestamp: number): string {
  return createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
}

/** The header value for `body`, signed at `timestamp` (epoch ms). */
export function signBody(secret: string, body: string, timestamp: number = Date.now()): string {
  return `t=${timestamp},v1=${signatureFor(secret, body, timestamp)}`;
}

export interface VerifyOptions {
  secret: string;
  /** The raw request body, exactly as received (before any JSON parsing). */
  body: string;
  /** The checkback-signature header value. */
  header: string | undefined | null;
  toleranceMs?: number;
  now?: number;
}

export type Verification = { ok: true; timestamp: number } | { ok: false; reason: string };

export function verifySignature(options: VerifyOptions): Verification {
  const { secret, body, header } = options;
  if (!header) return { ok: false, reason: "no signature header" };
  const fields = new Map<string, string>();
  for (const part of header.split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const timestamp = Number(fields.get("t"));
  const given = fields.get("v1");
  if (!Number.isSafeInteger(timestamp) || !given) return { ok: false, reason: "malformed signature header" };
  const tolerance = options.toleranceMs ?? DEFAULT_SIGNATURE_TOLERANCE_MS;
  if (Math.abs((options.now ?? Date.now()) - timestamp) > tolerance) {
    return { ok: false, reason: "timestamp outside the tolerance" };
  }
  const expected = Buffer.from(signatureFor(secret, body, timestamp), "hex");
  const actual = Buffer.from(given, "hex");
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
    return { ok: false, reason: "signature does not match" };
  }
  return { ok: true, timestamp };
}
