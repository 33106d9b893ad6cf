import { randomUUID } from "node:crypto";

/**
 * A lease token: unguessable, so only the claimant can complete or fail its job. randomUUID
 * draws from a buffered entropy pool, several times cheaper per call than randomBytes.
 */
export function newLeaseToken(): string {
  return randomUUID();
}
