import { describe, expect, it } from "vitest";
import { resolveBackoff, retryDelay } from "../../packages/checkback/src/core/backoff.js";

describe("back-off", () => {
  it("fixed: the same wait every time", () => {
    const policy = resolveBackoff("30s");
    expect([1, 2, 5].map((n) => retryDelay(policy, n))).toEqual([30_000, 30_000, 30_000]);
  });

  it("exponential: multiplies by the factor up to the cap", () => {
    const policy = resolveBackoff({ type: "exponential", delay: "1s", factor: 3, max: "20s" });
    expect([1, 2, 3, 4, 10].map((n) => retryDelay(policy, n))).toEqual([1000, 3000, 9000, 20_000, 20_000]);
  });

  it("list: one interval per attempt, the last repeating", () => {
    const policy = resolveBackoff(["10s", "1m", "10m"]);
    expect([1, 2, 3, 4, 9].map((n) => retryDelay(policy, n))).toEqual([10_000, 60_000, 600_000, 600_000, 600_000]);
  });

  it("jitter draws from [d·(1−jitter), d]", () => {
    const policy = resolveBackoff({ type: "fixed", delay: 1000, jitter: 0.5 });
    expect(retryDelay(policy, 1, () => 0)).toBe(1000);
    expect(retryDelay(policy, 1, () => 0.999999)).toBe(500);
    for (let i = 0; i < 200; i++) {
      const d = retryDelay(policy, 1);
      expect(d).toBeGreaterThanOrEqual(500);
      expect(d).toBeLessThanOrEqual(1000);
    }
  });

  it.each([
    [{ type: "exponential", delay: "1s", factor: 0.5 }, "INVALID_OPTION"],
    [{ type: "exponential", delay: "10s", max: "1s" }, "INVALID_OPTION"],
    [{ type: "fixed", delay: "1s", jitter: 2 }, "INVALID_OPTION"],
    [{ type: "list", delays: [] }, "INVALID_OPTION"],
    [{ type: "linear", delay: "1s" }, "INVALID_OPTION"],
    [["1s", "later"], "INVALID_DURATION"],
    ["fast", "INVALID_DURATION"],
  ])("refuses %j", (option, code) => {
    expect(() => resolveBackoff(option as never)).toThrow(expect.objectContaining({ code }));
  });
});
