import { describe, expect, it } from "vitest";
import { LatenessRecorder } from "../../bench/lib/lateness.js";
import { markdownTable } from "../../bench/lib/table.js";
import { checkTargets, scenarioTable } from "../../bench/report.js";

/** The benchmark's own arithmetic: if it is wrong, every published figure is. */
describe("bench reporting", () => {
  it("counts handlers that started before their due instant apart, as zero lateness", () => {
    const lateness = new LatenessRecorder();
    for (const ms of [0, 1, 2, 3, 100]) lateness.record(ms);
    lateness.record(-4);
    const summary = lateness.summary();
    expect(summary.count).toBe(6);
    expect(summary.early).toBe(1);
    expect(summary.p50).toBe(1);
    expect(summary.max).toBe(100);
  });

  it("names the better side by each figure's direction", () => {
    const table = scenarioTable("burst", [
      { label: "checkback (sqlite)", metrics: { drainRate: 9000, latenessP99: 20, earlyStarts: 0 } },
      { label: "BullMQ", metrics: { drainRate: 6000, latenessP99: 10, earlyStarts: 0 } },
    ]);
    const row = (label: string) => table.split("\n").find((line) => line.startsWith(`| ${label}`))!;
    expect(row("end-to-end jobs/s")).toMatch(/\| 1\.50 +\| checkback +\|$/);
    expect(row("live lateness p99")).toMatch(/\| 2\.00 +\| BullMQ +\|$/);
    expect(row("handlers started before due")).toMatch(/\| even +\|$/);
  });

  it("reports a failed side instead of dropping it", () => {
    const table = scenarioTable("light", [
      { label: "checkback (sqlite)", metrics: { latenessP99: 3 } },
      { label: "BullMQ", metrics: null, error: "Redis went away" },
    ]);
    expect(table).toContain("BullMQ failed: Redis went away");
    expect(table).toMatch(/lateness p99 \(ms\) ↓ +\| 3 +\| – +\| – +\| – +\|/);
  });

  it("checks the targets at their boundaries", () => {
    const met = (checks: ReturnType<typeof checkTargets>) => checks.map((c) => c.met);
    expect(met(checkTargets({ light: { latenessP99: 5 }, burst: { drainRate: 20_000 } }))).toEqual([true, true]);
    expect(met(checkTargets({ light: { latenessP99: 6 }, burst: { drainRate: 19_999 } }))).toEqual([false, false]);
    expect(met(checkTargets({ pending: { pendingJobs: 1e6, rssPeakMB: 200, latenessP99: 5 } }))).toEqual([false, true]);
  });

  it("pads Markdown columns to the widest cell", () => {
    expect(markdownTable(["a", "bb"], [["ccc", "d"]])).toBe("| a   | bb |\n|-----|----|\n| ccc | d  |");
  });
});
