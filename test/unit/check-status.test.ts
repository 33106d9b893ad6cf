import { describe, expect, it } from "vitest";
import { statusOf } from "../../packages/checkback/src/checks/status.js";
import { DEFAULT_BACKOFF } from "../../packages/checkback/src/core/backoff.js";
import type { JobRecord } from "../../packages/checkback/src/core/job.js";

function probeJob(overrides: Partial<JobRecord>): JobRecord {
  return {
    id: "7",
    queue: "check.payment",
    key: "check:T1",
    priority: 0,
    group: null,
    payload: JSON.stringify({
      kind: "probe",
      input: { order: "o1" },
      probes: 2,
      history: [{ at: 5, answer: "pending" }],
    }),
    state: "scheduled",
    runAt: 1_000,
    attempts: 0,
    maxAttempts: 25,
    backoff: DEFAULT_BACKOFF,
    errors: [],
    result: null,
    createdAt: 100,
    updatedAt: 500,
    leaseToken: null,
    leaseExpiresAt: null,
    ...overrides,
  };
}

describe("check status", () => {
  it("a scheduled check is running, with its next probe and deadline", () => {
    expect(statusOf("payment", 60_000, probeJob({}), null)).toMatchObject({
      key: "T1",
      state: "running",
      probes: 2,
      nextProbeAt: 1_000,
      deadlineAt: 60_100,
      endedAt: null,
      endedBy: null,
    });
    expect(statusOf("payment", null, probeJob({ state: "active" }), null)).toMatchObject({
      state: "running",
      nextProbeAt: null,
      deadlineAt: null,
    });
  });

  it("a completed check reports its ending, with the history kept in the result", () => {
    const ending = { state: "gave_up", result: null, reason: "deadline reached", endedBy: "deadline", probes: 3 };
    const history = [
      { at: 5, answer: "pending" },
      { at: 9, answer: "error", error: "timeout" },
    ];
    const status = statusOf(
      "payment",
      null,
      probeJob({ state: "completed", result: JSON.stringify({ ...ending, history }) }),
      probeJob({ key: "outcome:7", state: "dead", attempts: 10, errors: [{ attempt: 10, at: 1, message: "down" }] }),
    );
    expect(status).toMatchObject({ state: "gave_up", reason: "deadline reached", probes: 3, history, endedAt: 500 });
    expect(status.outcome).toEqual({ state: "dead", attempts: 10, errors: ["down"] });
  });

  it("a dead probe job is a dead check, with the last error as its reason", () => {
    const job = probeJob({ state: "dead", errors: [{ attempt: 25, at: 400, message: "lease expired" }] });
    expect(statusOf("payment", null, job, null)).toMatchObject({
      state: "dead",
      endedBy: "dead",
      reason: "lease expired",
      probes: 2,
    });
  });

  it("a cancelled check has no outcome", () => {
    expect(statusOf("payment", null, probeJob({ state: "cancelled" }), null)).toMatchObject({
      state: "cancelled",
      endedBy: "cancel",
      outcome: null,
    });
  });
});
