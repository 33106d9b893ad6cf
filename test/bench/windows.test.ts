import { describe, expect, it } from "vitest";
import { burstAboveRefill, quotaLateness, slidingMax, startsPerWindow } from "../../bench/lib/windows.js";

describe("starts per window", () => {
  it("counts whole windows from the first instant, and leaves out what falls outside the span", () => {
    const report = startsPerWindow([5, 0, 999, 1000, 1500, 2999, 3000, -1], {
      from: 0,
      windows: 3,
      windowMs: 1000,
      rate: 2,
    });
    expect(report.perWindow).toEqual([3, 2, 1]);
    expect(report.starts).toBe(6);
    expect(report.steadyMean).toBe(1.5);
    expect([report.steadyMin, report.steadyMax]).toEqual([1, 2]);
    expect([report.slidingMax, report.steadySlidingMax]).toEqual([3, 2]);
  });

  it("finds the busiest window wherever it begins", () => {
    // Two per fixed window, but four within [900, 1900).
    expect(slidingMax([100, 900, 950, 1100, 1800, 2500], 1000)).toBe(4);
    expect(slidingMax([], 1000)).toBe(0);
  });

  it("measures the burst beyond a steady refill, which a token bucket bounds by its size", () => {
    // One start per ms at 1 per ms: nothing beyond the refill but the first start.
    expect(burstAboveRefill([0, 1, 2, 3], 1)).toBe(1);
    // Five at once, then one a ms: the five are the burst.
    expect(burstAboveRefill([0, 0, 0, 0, 0, 1, 2], 1)).toBe(5);
    // A burst later in the run counts against what the quiet stretch before it refilled.
    expect(burstAboveRefill([0, 10, 10, 10], 0.1)).toBeCloseTo(3);
  });
});

describe("the lateness a quota forces", () => {
  it("is none while demand stays under the limit", () => {
    expect(quotaLateness([0, 10, 20, 30], { rate: 1, perMs: 10, bucket: 1 })).toEqual([0, 0, 0, 0]);
  });

  it("spends the bucket at once, then spaces the rest at the rate", () => {
    // Bucket of 2, one token per 10 ms, six due together: two at once, then one every 10 ms.
    expect(quotaLateness([0, 0, 0, 0, 0, 0], { rate: 1, perMs: 10, bucket: 2 })).toEqual([0, 0, 10, 20, 30, 40]);
  });

  it("lets the bucket refill while nothing is due, up to its size", () => {
    expect(quotaLateness([0, 0, 100, 100, 100], { rate: 1, perMs: 10, bucket: 2 })).toEqual([0, 0, 0, 0, 10]);
  });
});
