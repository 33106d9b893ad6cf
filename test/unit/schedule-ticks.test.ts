import { describe, expect, it } from "vitest";
import { CheckbackError } from "../../packages/checkback/src/core/errors.js";
import {
  resolveScheduleDefinition,
  type ScheduleDefinition,
  type StoredDefinition,
} from "../../packages/checkback/src/scans/definition.js";
import { MISSED_AFTER_MS, planTicks } from "../../packages/checkback/src/scans/ticker.js";
import { timetableOf, upcoming } from "../../packages/checkback/src/scans/timetable.js";

const define = (definition: ScheduleDefinition): StoredDefinition =>
  resolveScheduleDefinition(definition, "q", 256 * 1024);
const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The ticker, driven with a controllable clock: it runs whenever it is due (or later, when the
 * test says so) and the ticks it hands on are collected — what the store would hold as firings.
 */
function simulate(definition: StoredDefinition, from: number, until: number, runAt?: (due: number) => number) {
  const fired: string[] = [];
  let after = from - 1;
  let now = from;
  while (now <= until) {
    const plan = planTicks(definition, after, now);
    fired.push(...plan.firings.map((f) => iso(f.tick)));
    after = plan.after;
    if (plan.wakeAt === null) break;
    now = runAt ? runAt(plan.wakeAt) : plan.wakeAt;
  }
  return [...new Set(fired)].filter((tick) => Date.parse(tick) <= until);
}

describe("DST: a daily 02:30 fires exactly once per day", () => {
  it("America/New_York: spring forward skips 02:30 (fires at 03:00 EDT, the first valid time)", () => {
    const daily = define({ cron: "0 30 2 * * *", timezone: "America/New_York" });
    const fired = simulate(daily, at("2024-03-08T12:00:00Z"), at("2024-03-12T12:00:00Z"));
    expect(fired).toEqual([
      "2024-03-09T07:30:00.000Z", // 02:30 EST
      "2024-03-10T07:00:00.000Z", // 02:30 does not exist: 03:00 EDT
      "2024-03-11T06:30:00.000Z", // 02:30 EDT
      "2024-03-12T06:30:00.000Z",
    ]);
  });

  it("America/New_York: fall back repeats 01:30; a daily 01:30 fires once, at the first pass", () => {
    const daily = define({ cron: "0 30 1 * * *", timezone: "America/New_York" });
    const fired = simulate(daily, at("2024-11-02T00:00:00Z"), at("2024-11-04T12:00:00Z"));
    expect(fired).toEqual(["2024-11-02T05:30:00.000Z", "2024-11-03T05:30:00.000Z", "2024-11-04T06:30:00.000Z"]);
  });

  it("Europe/Berlin: 02:30 is skipped in March and repeated in October; once per day both times", () => {
    const daily = define({ cron: "30 2 * * *", timezone: "Europe/Berlin" });
    expect(simulate(daily, at("2024-03-29T12:00:00Z"), at("2024-04-01T12:00:00Z"))).toEqual([
      "2024-03-30T01:30:00.000Z",
      "2024-03-31T01:00:00.000Z", // 03:00 CEST, the first valid time after the gap
      "2024-04-01T00:30:00.000Z",
    ]);
    expect(simulate(daily, at("2024-10-25T12:00:00Z"), at("2024-10-28T12:00:00Z"))).toEqual([
      "2024-10-26T00:30:00.000Z",
      "2024-10-27T00:30:00.000Z", // the first of the two 02:30s
      "2024-10-28T01:30:00.000Z",
    ]);
  });

  it("an hourly schedule keeps running through both passes of a repeated hour", () => {
    const hourly = define({ cron: "0 * * * *", timezone: "Europe/Berlin" });
    const ticks = upcoming(timetableOf(hourly), at("2024-10-26T22:30:00Z"), 4).map(iso);
    expect(ticks).toEqual([
      "2024-10-26T23:00:00.000Z", // 01:00 CEST
      "2024-10-27T00:00:00.000Z", // 02:00 CEST
      "2024-10-27T01:00:00.000Z", // 02:00 CET
      "2024-10-27T02:00:00.000Z", // 03:00 CET
    ]);
  });

  it("a day of missed ticks in a DST week, run by the 'all' policy, is still one per day", () => {
    const daily = define({ cron: "0 30 2 * * *", timezone: "Europe/Berlin", missed: "all" });
    const plan = planTicks(daily, at("2024-10-25T12:00:00Z"), at("2024-10-29T12:00:00Z"));
    expect(plan.firings.map((f) => `${f.kind} ${iso(f.tick)}`)).toEqual([
      "missed 2024-10-26T00:30:00.000Z",
      "missed 2024-10-27T00:30:00.000Z",
      "missed 2024-10-28T01:30:00.000Z",
      "missed 2024-10-29T01:30:00.000Z",
      "tick 2024-10-30T01:30:00.000Z",
    ]);
  });
});

describe("the ticker's plan", () => {
  const everySecond = (extra: Partial<ScheduleDefinition> = {}) => define({ every: "1s", ...extra });

  it("on time: hands on exactly the next tick and sleeps until it", () => {
    const plan = planTicks(everySecond(), at("2024-01-01T00:00:05Z"), at("2024-01-01T00:00:05.010Z"));
    expect(plan.firings).toEqual([{ tick: at("2024-01-01T00:00:06Z"), kind: "tick" }]);
    expect(plan.wakeAt).toBe(at("2024-01-01T00:00:06Z"));
  });

  it("a little late (under the missed threshold) is not an outage: the due tick fires, then the next", () => {
    const plan = planTicks(everySecond({ missed: "skip" }), at("2024-01-01T00:00:05Z"), at("2024-01-01T00:00:06.500Z"));
    expect(plan.firings.map((f) => `${f.kind} ${iso(f.tick)}`)).toEqual([
      "tick 2024-01-01T00:00:06.000Z",
      "tick 2024-01-01T00:00:07.000Z",
    ]);
  });

  const after = at("2024-01-01T00:00:05Z");
  const now = at("2024-01-01T00:00:15.200Z"); // ticks 6…14 are missed (15 is due, < 1 s old)
  it.each([
    ["skip", {}, []],
    ["latest", {}, ["14"]],
    ["all", {}, ["06", "07", "08", "09", "10", "11", "12", "13", "14"]],
    ["all", { maxMissed: 3 }, ["12", "13", "14"]],
  ] as const)("missed %s %o: runs %o, then the due tick and the next", (missed, extra, expected) => {
    const plan = planTicks(everySecond({ missed, ...extra }), after, now);
    const missedTicks = plan.firings.filter((f) => f.kind === "missed").map((f) => iso(f.tick).slice(17, 19));
    expect(missedTicks).toEqual(expected);
    expect(plan.firings.filter((f) => f.kind === "tick").map((f) => iso(f.tick).slice(17, 19))).toEqual(["15", "16"]);
    expect(now - MISSED_AFTER_MS).toBeGreaterThan(at("2024-01-01T00:00:14Z"));
  });

  it("a cron schedule down for a year with 'all' runs only the last maxMissed ticks, without walking the year", () => {
    const definition = define({ cron: "* * * * * *", missed: "all", maxMissed: 1000 });
    const started = performance.now();
    const plan = planTicks(definition, at("2023-01-01T00:00:00Z"), at("2024-01-01T00:00:00Z"));
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(plan.firings.filter((f) => f.kind === "missed")).toHaveLength(1000);
  });

  it("start and end bound the ticks; past the end the schedule ends", () => {
    const bounded = everySecond({ start: at("2024-01-01T00:00:00.500Z"), end: at("2024-01-01T00:00:02.500Z") });
    const fired = simulate(bounded, at("2024-01-01T00:00:00Z"), at("2024-01-01T00:01:00Z"));
    expect(fired).toEqual(["2024-01-01T00:00:00.500Z", "2024-01-01T00:00:01.500Z", "2024-01-01T00:00:02.500Z"]);
    expect(planTicks(bounded, at("2024-01-01T00:00:02.500Z"), at("2024-01-01T00:00:03Z")).wakeAt).toBeNull();
  });

  it("intervals fall on epoch multiples without a start, so every process computes the same ticks", () => {
    expect(upcoming(timetableOf(define({ every: "1h" })), at("2024-05-05T10:20:00Z"), 2).map(iso)).toEqual([
      "2024-05-05T11:00:00.000Z",
      "2024-05-05T12:00:00.000Z",
    ]);
  });
});

describe("bad definitions are refused with INVALID_OPTION naming the field", () => {
  it.each([
    [{ cron: "every day" }, "cron"],
    [{ cron: "61 * * * *" }, "cron"],
    [{ cron: "0 0 30 2 *" }, "cron"],
    [{ cron: "0 * * * *", timezone: "Mars/Olympus_Mons" }, "timezone"],
    [{ every: "1s", timezone: "UTC" }, "timezone"],
    [{ every: "999ms" }, "every"],
    [{ every: 0 }, "every"],
    [{}, "cron"],
    [{ cron: "* * * * *", every: "1m" }, "cron"],
    [{ every: "1m", start: 2000, end: 1000 }, "end"],
    [{ every: "1m", start: "yesterday" }, "start"],
    [{ every: "1m", missed: "some" }, "missed"],
    [{ every: "1m", missed: "all", maxMissed: 0 }, "maxMissed"],
    [{ every: "1m", maxMissed: 1001 }, "maxMissed"],
    [{ every: "1m", maxMissed: 1.5 }, "maxMissed"],
    [{ every: "1m", queue: "no spaces" }, "queue"],
    [{ every: "1m", attempts: 0 }, "attempts"],
    [{ every: "1m", payload: () => 1 }, "payload"],
  ])("%o → %s", (definition, field) => {
    let caught: unknown;
    try {
      define(definition as ScheduleDefinition);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CheckbackError);
    const error = caught as CheckbackError;
    expect(error.code).toMatch(/^INVALID_/);
    if (field !== "every" || typeof (definition as ScheduleDefinition).every === "string")
      expect(error.details?.field).toBe(field);
  });

  it("every under 1 s is INVALID_OPTION; a time zone is stored canonically", () => {
    expect(() => define({ every: "500ms" })).toThrow(expect.objectContaining({ code: "INVALID_OPTION" }));
    expect(define({ cron: "0 * * * *", timezone: "europe/berlin" }).timezone).toBe("Europe/Berlin");
  });
});
