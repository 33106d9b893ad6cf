import { describe, expect, it } from "vitest";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { resolveDefinition } from "../../packages/checkback/src/checks/definition.js";
import { InvalidStateError, ValidationError } from "../../packages/checkback/src/core/errors.js";

const probe = () => ({ status: "pending" as const });

describe("check definitions", () => {
  it("resolves durations and defaults", () => {
    const resolved = resolveDefinition({ schedule: { every: "1m" }, deadline: "30m", probe });
    expect(resolved).toMatchObject({
      schedule: { type: "every", intervalMs: 60_000, times: null },
      deadlineMs: 1_800_000,
      probeTimeoutMs: 30_000,
      outcomeAttempts: 10,
      outcomeBackoff: { type: "exponential" },
      worker: { concurrency: 10 },
      group: null,
    });
    const custom = resolveDefinition({
      schedule: ["1s"],
      probe,
      probeTimeout: "5s",
      outcomeRetry: { attempts: 3, backoff: ["1s", "1m"] },
      worker: false,
      group: "alipay",
    });
    expect(custom).toMatchObject({
      probeTimeoutMs: 5_000,
      outcomeAttempts: 3,
      outcomeBackoff: { type: "list", delaysMs: [1_000, 60_000] },
      worker: false,
      group: "alipay",
    });
  });

  it.each([
    [{ schedule: ["1s"] }, /needs a probe function/],
    [{ schedule: ["1s"], probe: "https://gateway/query" }, /needs a probe function/],
    [{ probe }, /needs a schedule/],
    [{ schedule: ["1s"], probe, onDone: "mark paid" }, /onDone must be a function/],
    [{ schedule: ["1s"], probe, onGaveup: () => {} }, /unknown check option "onGaveup"/],
    [{ schedule: ["1s"], probe, deadline: "0s" }, /deadline must be longer than 0/],
    [{ schedule: ["1s"], probe, deadline: "half an hour" }, /deadline/],
    [{ schedule: ["1s"], probe, probeTimeout: 0 }, /probeTimeout/],
    [{ schedule: ["1s"], probe, outcomeRetry: { attempts: 0 } }, /attempts/],
    [{ schedule: ["1s"], probe, outcomeRetry: { tries: 3 } }, /unknown outcomeRetry option "tries"/],
    [{ schedule: ["1s"], probe, worker: "yes" }, /worker must be/],
    [{ schedule: { every: "1s" }, probe }, /needs a deadline/],
    [{ schedule: ["1s"], probe, group: "" }, /group must be a string/],
    [{ schedule: ["1s"], probe, group: 7 }, /group must be a string/],
    [{ schedule: ["1s"], probe, group: "a\u0000b" }, /control characters/],
    [null, /must be an object/],
  ])("refuses %o", (definition, message) => {
    expect(() => resolveDefinition(definition as never)).toThrow(ValidationError);
    expect(() => resolveDefinition(definition as never)).toThrow(message);
  });

  it("Checkback.check validates the name and refuses a second definition of the same name", async () => {
    const checkback = new Checkback({ store: "memory:" });
    try {
      expect(() => checkback.check("pay ment", { schedule: ["1s"], probe, worker: false })).toThrow(ValidationError);
      expect(() => checkback.check("payment", { schedule: ["1s"], probe, worker: { concurrency: 0 } })).toThrow(
        /concurrency/,
      );
      const check = checkback.check("payment", { schedule: ["1s"], probe, worker: false });
      expect(check.queueName).toBe("check.payment");
      expect(check.worker).toBeNull();
      expect(() => checkback.check("payment", { schedule: ["1s"], probe })).toThrow(InvalidStateError);
    } finally {
      await checkback.close();
    }
  });
});
