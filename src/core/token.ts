import { randomBytes } from "node:crypto";

/** A lease token: unguessable, so only the claimant can complete or fail its job. */
export function newLeaseToken(): string {
  return randomBytes(12).toString("base64url");
}
