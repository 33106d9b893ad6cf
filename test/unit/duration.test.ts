import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "../../packages/checkback/src/core/duration.js";
import { ValidationError } from "../../packages/checkback/src/core/errors.js";

describe("parseDuration", () => {
  it.each([
    [0, 0],
    [1500, 1500],
    ["250ms", 250],
    ["30s", 30_000],
    ["15m", 900_000],
    ["2h", 7_200_000],
    ["7d", 604_800_000],
    ["1w", 604_800_000],
    ["1h30m", 5_400_000],
    ["1.5s", 1500],
    ["42", 42],
    [" 10s ", 10_000],
  ])("reads %j as %d ms", (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each([
    ["soon"],
    ["10 s"],
    ["-5s"],
    [""],
    ["5x"],
    ["s"],
    [-1],
    [Number.NaN],
    [Number.POSITIVE_INFINITY],
    ["200y"],
    [{ ms: 5 }],
    [null],
  ])("refuses %j with a typed error", (input) => {
    let caught: unknown;
    try {
      parseDuration(input as never);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    expect(caught).toMatchObject({ code: "INVALID_DURATION" });
  });

  it("refuses durations beyond a century", () => {
    expect(() => parseDuration(`${101 * 365}d`)).toThrow(/100 years/);
  });

  it("formats durations for people", () => {
    expect(formatDuration(250)).toBe("250ms");
    expect(formatDuration(5_400_000)).toBe("1h30m");
    expect(formatDuration(90_061_000)).toBe("1d1h1m1s");
  });
});
