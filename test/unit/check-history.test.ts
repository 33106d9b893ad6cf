import { describe, expect, it } from "vitest";
import { validateAnswer } from "../../packages/checkback/src/checks/answer.js";
import { appendHistory, errorRecord, HISTORY_LIMIT } from "../../packages/checkback/src/checks/history.js";
import type { ProbeRecord } from "../../packages/checkback/src/checks/types.js";

describe("check history", () => {
  it("keeps the newest HISTORY_LIMIT probes", () => {
    let history: ProbeRecord[] = [];
    for (let at = 1; at <= HISTORY_LIMIT + 5; at++) history = appendHistory(history, { at, answer: "pending" });
    expect(history).toHaveLength(HISTORY_LIMIT);
    expect(history[0]!.at).toBe(6);
    expect(history.at(-1)!.at).toBe(HISTORY_LIMIT + 5);
  });

  it("does not change the history it was given", () => {
    const history: ProbeRecord[] = [{ at: 1, answer: "pending" }];
    appendHistory(history, { at: 2, answer: "done" });
    expect(history).toHaveLength(1);
  });

  it("records errors by message, cut to a bounded length", () => {
    expect(errorRecord(5, new Error("ECONNRESET"))).toEqual({ at: 5, answer: "error", error: "ECONNRESET" });
    expect(errorRecord(5, "plain string")).toMatchObject({ error: "plain string" });
    expect(errorRecord(5, new Error("x".repeat(2000))).error!.length).toBeLessThan(520);
  });
});

describe("probe answers", () => {
  it("accepts the three answers", () => {
    expect(validateAnswer({ status: "pending" })).toEqual({ status: "pending" });
    expect(validateAnswer({ status: "done", result: { paid: 1 } })).toEqual({ status: "done", result: { paid: 1 } });
    expect(validateAnswer({ status: "done" })).toEqual({ status: "done", result: null });
    expect(validateAnswer({ status: "failed", reason: "closed" })).toEqual({ status: "failed", reason: "closed" });
  });

  it.each([
    [undefined],
    [null],
    ["pending"],
    [{ status: "failed" }],
    [{ status: "failed", reason: 3 }],
    [{ state: "done" }],
  ])("refuses %j", (value) => {
    expect(() => validateAnswer(value)).toThrow(/probe answered/);
  });
});
