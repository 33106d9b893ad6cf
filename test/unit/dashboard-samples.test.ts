import { describe, expect, it } from "vitest";
import { alertsFor } from "../../packages/server/src/http/dashboard/alerts.js";
import { SAMPLE_INTERVAL_MS, SampleRing } from "../../packages/server/src/http/dashboard/samples.js";

const counts = (over: Partial<Record<string, number>> = {}) => ({
  scheduled: 0,
  active: 0,
  completed: 0,
  dead: 0,
  cancelled: 0,
  ...over,
});

describe("the dashboard's sample ring", () => {
  it("buckets hand-outs, outcomes and lateness by 10 s over an hour, and forgets older ones", () => {
    let now = 1_000_000_000_000;
    const ring = new SampleRing(() => now);
    for (let i = 1; i <= 100; i++) ring.handedOut("q", i);
    ring.completed("q");
    ring.dead("q");
    ring.retried("q");
    now += SAMPLE_INTERVAL_MS;
    ring.handedOut("q", 5);
    const series = ring.series("q");
    expect(series.at).toHaveLength(360);
    expect(series.at.at(-1)! - series.at[0]!).toBe(359 * SAMPLE_INTERVAL_MS);
    expect(series.handedOut.slice(-2)).toEqual([100, 1]);
    expect(series.completed.slice(-2)).toEqual([1, 0]);
    expect(series.failed.slice(-2)).toEqual([2, 0]);
    expect(series.latenessP50.slice(-2)).toEqual([50, 5]);
    expect(series.latenessP99.slice(-2)).toEqual([99, 5]);
    expect(series.latenessP99[0]).toBeNull();

    // An hour later the slot is reused: the old bucket is gone, not added to.
    now += 60 * 60_000 - SAMPLE_INTERVAL_MS;
    ring.handedOut("q", 1);
    expect(ring.series("q").handedOut.reduce((a, b) => a + b, 0)).toBe(2);
  });

  it("alerts: dead letters growing, lateness p99 over the threshold, workers gone", () => {
    let now = 1_000_000_000_000;
    const ring = new SampleRing(() => now);
    for (let i = 0; i < 50; i++) ring.handedOut("q", 8_000);
    ring.dead("q");
    const kinds = (waiting: number) =>
      alertsFor("q", counts({ scheduled: waiting, dead: 1 }), ring, 5_000, now).map((a) => a.kind);
    expect(kinds(3)).toEqual(["dead-letters-growing", "lateness"]);
    now += 3 * 60_000;
    expect(kinds(3)).toEqual(["dead-letters-growing", "lateness", "workers-gone"]);
    expect(kinds(0)).toEqual(["dead-letters-growing", "lateness"]);
    now += 20 * 60_000;
    expect(kinds(0)).toEqual([]);
  });
});
