import { describeValue } from "../core/describe.js";
import { serializePayload } from "../core/payload.js";
import type { ProbeAnswer } from "./types.js";

/** Answer constructors, also handed to every probe on its context. */
export const answers = {
  pending: (): ProbeAnswer<never> => ({ status: "pending" }),
  done: <R>(result: R): ProbeAnswer<R> => ({ status: "done", result }),
  failed: (reason: string): ProbeAnswer<never> => ({ status: "failed", reason }),
};

/**
 * A probe's return value, checked: anything but a well-formed answer is treated like a thrown
 * error (recorded, absorbed by the schedule) rather than guessed at.
 */
export function validateAnswer<R>(value: unknown): ProbeAnswer<R> {
  if (typeof value === "object" && value !== null) {
    const answer = value as { status?: unknown; result?: unknown; reason?: unknown };
    if (answer.status === "pending") return { status: "pending" };
    if (answer.status === "done") return { status: "done", result: jsonResult(answer.result) as R };
    if (answer.status === "failed" && typeof answer.reason === "string")
      return { status: "failed", reason: answer.reason };
  }
  throw new Error(
    `probe answered ${describeValue(value)}; expected { status: "pending" }, { status: "done", result } or { status: "failed", reason: string }`,
  );
}

/** A result must survive the trip through the store as JSON, or the outcome could not carry it. */
function jsonResult(result: unknown): unknown {
  if (result === undefined) return null;
  try {
    // The payload rules, so the probe learns now (a failed probe, which the schedule absorbs)
    // rather than when the outcome is stored.
    serializePayload(result, Number.POSITIVE_INFINITY, "result");
  } catch (error) {
    throw new Error(`probe answered done with a result that is not JSON: ${(error as Error).message}`);
  }
  return result;
}
