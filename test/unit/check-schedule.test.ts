import { describe, expect, it } from "vitest";
import { intervalAfter, nextDelay, resolveSchedule } from "../../packages/checkback/src/checks/schedule.js";
import { ValidationError } from "../../packages/checkback/src/core/errors.js";

const intervals = (schedule: unknown, hasDeadline = false, steps = 10) => {
  const resolved = resolveSchedule(schedule, hasDeadline);
  return Array.from({ length: steps }, (_, step) => intervalAfter(resolved, step));
};

describe("check schedules", () => {
  it("a list probes after each interval in turn, then stops", () => {
    expect(intervals(["10s", "10s", "30s", "1m", "2m", "5m", "10m"], false, 8)).toEqual([
      10_000,
      10_000,
      30_000,
      60_000,
      120_000,
      300_000,
      600_000,
      null,
    ]);
  });

  it("{ every, times } repeats one interval `times` times", () => {
    expect(intervals({ every: "15s", times: 4 }, false, 5)).toEqual([15_000, 15_000, 15_000, 15_000, null]);
  });

  it("back-off grows by its factor up to the cap", () => {
    expect(intervals({ backoff: { delay: "1s", factor: 3, max: "20s" }, times: 5 }, false, 6)).toEqual([
      1_000,
      3_000,
      9_000,
      20_000,
      20_000,
      null,
    ]);
    expect(intervals({ backoff: { delay: "1s", max: "5s" }, times: 4 }, false, 4)).toEqual([
      1_000, 2_000, 4_000, 5_000,
    ]);
  });

  it("without times, a schedule runs until the deadline", () => {
    expect(intervals({ every: "1m" }, true, 3)).toEqual([60_000, 60_000, 60_000]);
    const resolved = resolveSchedule({ every: "1m" }, true);
    expect(nextDelay(resolved, 5, 1_000, 31_000)).toEqual({ delayMs: 30_000 });
    expect(nextDelay(resolved, 6, 31_000, 31_000)).toEqual({ end: "deadline" });
  });

  it("a probe that would fall after the deadline runs at the deadline; the schedule's end comes first if sooner", () => {
    const list = resolveSchedule(["10s", "10s"], true);
    expect(nextDelay(list, 0, 0, 15_000)).toEqual({ delayMs: 10_000 });
    expect(nextDelay(list, 1, 10_000, 15_000)).toEqual({ delayMs: 5_000 });
    expect(nextDelay(list, 2, 15_000, 100_000)).toEqual({ end: "schedule" });
    expect(nextDelay(list, 1, 10_000, null)).toEqual({ delayMs: 10_000 });
  });

  it.each([
    [[], /at least one interval/],
    [["10s", "soon"], /schedule\[1\]/],
    [{ every: "0s", times: 3 }, /longer than 0/],
    [{ every: "10s" }, /needs a deadline/],
    [{ every: "10s", times: 0 }, /times must be an integer/],
    [{ every: "10s", times: 2.5 }, /times must be an integer/],
    [{ every: "10s", times: 3, jitter: 1 }, /unknown schedule option "jitter"/],
    [{ backoff: { delay: "10s" }, times: 3 }, /needs a cap/],
    [{ backoff: { delay: "10s", max: "1s" }, times: 3 }, /must not be shorter/],
    [{ backoff: { delay: "10s", max: "1m", factor: 0.5 }, times: 3 }, /factor/],
    [{ backoff: { delay: "1s", max: "1m", cap: "1m" }, times: 3 }, /unknown schedule.backoff option "cap"/],
    [{ backoff: "1s", times: 3 }, /schedule.backoff must be/],
    [{ intervals: ["1s"] }, /schedule must be/],
    ["10s", /schedule must be/],
    [null, /schedule must be/],
  ])("refuses %j", (schedule, message) => {
    expect(() => resolveSchedule(schedule, false)).toThrow(ValidationError);
    expect(() => resolveSchedule(schedule, false)).toThrow(message);
  });
});
