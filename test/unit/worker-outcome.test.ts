import { describe, expect, it } from "vitest";
import { resolveBackoff } from "../../packages/checkback/src/core/backoff.js";
import type { JobRecord } from "../../packages/checkback/src/core/job.js";
import { CompleteWith, later, slowDown } from "../../packages/checkback/src/worker/answers.js";
import { decideOutcome } from "../../packages/checkback/src/worker/outcome.js";

const MAX = 1024;

function job(attempts: number, maxAttempts = 3, group: string | null = null): JobRecord {
  return {
    id: "1",
    queue: "q",
    key: null,
    payload: "{}",
    priority: 0,
    group,
    state: "active",
    runAt: 0,
    attempts,
    maxAttempts,
    backoff: resolveBackoff("30s"),
    errors: [],
    result: null,
    createdAt: 0,
    updatedAt: 0,
    leaseToken: "lease",
    leaseExpiresAt: 1,
  };
}

describe("the outcome rule", () => {
  it("completes with the answer as JSON text (null for nothing)", () => {
    expect(decideOutcome(job(1), { ok: true, value: { paid: 1 } }, MAX)).toMatchObject({
      kind: "complete",
      result: '{"paid":1}',
      enqueue: undefined,
      value: { paid: 1 },
    });
    expect(decideOutcome(job(1), { ok: true, value: undefined }, MAX)).toMatchObject({
      kind: "complete",
      result: null,
    });
  });

  it("completes a CompleteWith with its follow-ups", () => {
    const follow = [{ queue: "q" }] as never;
    expect(decideOutcome(job(1), { ok: true, value: new CompleteWith("done", follow) }, MAX)).toMatchObject({
      kind: "complete",
      result: '"done"',
      enqueue: follow,
      value: "done",
    });
  });

  it("releases a later() without spending an attempt, keeping the payload unless one is given", () => {
    expect(decideOutcome(job(3), { ok: true, value: later("5s") }, MAX)).toEqual({
      kind: "release",
      delayMs: 5000,
      payload: undefined,
    });
    expect(decideOutcome(job(1), { ok: true, value: later(10, { n: 2 }) }, MAX)).toMatchObject({ payload: '{"n":2}' });
  });

  it("releases a slowDown() and asks for the queue to be paused until the job is due again", () => {
    expect(decideOutcome(job(3), { ok: true, value: slowDown("30s") }, MAX)).toEqual({
      kind: "release",
      delayMs: 30_000,
      payload: undefined,
      pauseQueue: true,
    });
    expect(() => slowDown("soon")).toThrow();
  });

  it("pauses a grouped job's group by default, and the scope chooses otherwise", () => {
    const grouped = job(1, 3, "merchant-7");
    const paused = (value: unknown) => decideOutcome(grouped, { ok: true, value }, MAX);
    expect(paused(slowDown("30s"))).toEqual({ kind: "release", delayMs: 30_000, payload: undefined, pauseGroup: true });
    expect(paused(slowDown("30s", { scope: "queue" }))).toEqual({
      kind: "release",
      delayMs: 30_000,
      payload: undefined,
      pauseQueue: true,
    });
    // "group" on a job without one still asks for it: releaseJob refuses it and the worker reports that.
    expect(decideOutcome(job(1), { ok: true, value: slowDown(5, { scope: "group" }) }, MAX)).toMatchObject({
      pauseGroup: true,
    });
    expect(paused(later("30s"))).toEqual({ kind: "release", delayMs: 30_000, payload: undefined });
    for (const options of [{ scope: "merchant" }, { scope: null }, { scop: "group" }, "group", null]) {
      expect(() => slowDown("1s", options as never)).toThrow(expect.objectContaining({ code: "INVALID_OPTION" }));
    }
  });

  it("fails an attempt with the job's back-off while attempts remain, and makes it dead on the last", () => {
    const error = new Error("boom");
    expect(decideOutcome(job(1), { ok: false, error }, MAX)).toEqual({
      kind: "fail",
      error: "boom",
      retryDelayMs: 30_000,
      cause: error,
    });
    expect(decideOutcome(job(3), { ok: false, error }, MAX)).toMatchObject({ kind: "fail", retryDelayMs: null });
  });

  it("fails the attempt when the answer cannot be kept as given (too large, or not JSON)", () => {
    const big = decideOutcome(job(1), { ok: true, value: "x".repeat(MAX * 2) }, MAX);
    expect(big).toMatchObject({ kind: "fail", retryDelayMs: 30_000 });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(decideOutcome(job(3), { ok: true, value: later(1, cyclic) }, MAX)).toMatchObject({
      kind: "fail",
      retryDelayMs: null,
    });
  });
});
