import { describe, expect, it } from "vitest";
import { resolveSchedule } from "../../packages/checkback/src/checks/schedule.js";
import { resolveBackoff } from "../../packages/checkback/src/core/backoff.js";
import { describeValue, PREVIEW_LENGTH } from "../../packages/checkback/src/core/describe.js";
import { parseDuration } from "../../packages/checkback/src/core/duration.js";
import { type CheckbackError, invalidOption, ValidationError } from "../../packages/checkback/src/core/errors.js";
import { resolveAddOptions } from "../../packages/checkback/src/core/options.js";

/** A value nested far deeper than any recursive walk (JSON.stringify, String) survives. */
function deep(depth: number): unknown {
  let value: unknown = "30s";
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

function cycle(): unknown {
  const a: Record<string, unknown> = { name: "a" };
  a.self = a;
  return a;
}

const hostile: [string, unknown][] = [
  ["an array nested 200 000 deep", deep(200_000)],
  ["an object nested 200 000 deep", JSON.parse(`${'{"a":'.repeat(200_000)}1${"}".repeat(200_000)}`)],
  ["a BigInt", 10n],
  ["an object holding a BigInt", { amount: 10n }],
  ["a cycle", cycle()],
  ["a megabyte string", "x".repeat(1 << 20)],
  ["a symbol", Symbol("s")],
  ["a function", () => 1],
  [
    "an object whose getter throws",
    Object.defineProperty({}, "boom", {
      enumerable: true,
      get() {
        throw new Error("no");
      },
    }),
  ],
  ["an object without prototype", Object.create(null)],
  ["an invalid Date", new Date(Number.NaN)],
];

describe("describeValue", () => {
  it.each(hostile)("describes %s briefly and without throwing", (_what, value) => {
    const text = describeValue(value);
    expect(typeof text).toBe("string");
    expect(text.length).toBeLessThanOrEqual(PREVIEW_LENGTH + 1);
  });

  it("reads like JSON for ordinary values", () => {
    expect(describeValue("soon")).toBe('"soon"');
    expect(describeValue(42)).toBe("42");
    expect(describeValue({ every: "1m", times: [1, 2] })).toBe('{"every":"1m","times":[1,2]}');
    expect(describeValue([1, 2, 3, 4, 5, 6, 7])).toBe("[1,2,3,4,5,…]");
  });

  it("never cuts a surrogate pair in half", () => {
    const text = describeValue(`${"x".repeat(PREVIEW_LENGTH - 1)}🔑🔑`);
    expect(/[\uD800-\uDFFF]/.test(text.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ""))).toBe(false);
  });
});

describe("errors about hostile values", () => {
  const attempts: [string, () => unknown][] = [
    ["a duration", () => parseDuration(deep(100_000) as never, "delay")],
    ["a job's delay", () => resolveAddOptions({ delay: deep(100_000) as never })],
    ["a back-off delay", () => resolveBackoff({ type: "fixed", delay: deep(100_000) } as never)],
    ["a back-off type", () => resolveBackoff({ type: deep(100_000) } as never)],
    ["a schedule interval", () => resolveSchedule([deep(100_000)] as never, false)],
    ["a whole schedule", () => resolveSchedule(deep(100_000) as never, false)],
    ["a runAt", () => resolveAddOptions({ runAt: deep(100_000) as never })],
    ["a key", () => resolveAddOptions({ key: deep(100_000) as never })],
  ];

  it.each(attempts)(
    "refuse %s nested too deep with a typed error whose message and details are small",
    (_what, act) => {
      let caught: unknown;
      try {
        act();
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ValidationError);
      const error = caught as CheckbackError;
      expect(error.message.length).toBeLessThan(400);
      // The server serializes details into its answer: they must serialize, and stay small.
      expect(JSON.stringify(error.details ?? {}).length).toBeLessThan(400);
    },
  );

  it("keep details plain and bounded whatever they are given", () => {
    const error = invalidOption("bad", { schedule: deep(100_000), n: 5, ok: true, nothing: null, big: 1n });
    expect(error.details).toMatchObject({ n: 5, ok: true, nothing: null, big: "1n" });
    expect(typeof error.details!.schedule).toBe("string");
    expect(JSON.stringify(error.details).length).toBeLessThan(400);
  });
});
