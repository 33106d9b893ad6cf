import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { validateAnswer } from "../../packages/checkback/src/checks/answer.js";
import { MAX_DURATION_MS } from "../../packages/checkback/src/core/duration.js";
import { serializePayload } from "../../packages/checkback/src/core/payload.js";
import {
  failureMessage,
  MAX_ERROR_MESSAGE_LENGTH,
  validateIdentifier,
  validateName,
} from "../../packages/checkback/src/core/text.js";
import { MemoryStore } from "../../packages/checkback/src/stores/memory/memory-store.js";
import { later } from "../../packages/checkback/src/worker/answers.js";

const empty = { scheduled: 0, active: 0, completed: 0, dead: 0, cancelled: 0 };

async function until(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("names", () => {
  it("are letters, digits, _ . : -, and never only dots", () => {
    for (const ok of ["orders", "a.b", ".hidden", "v1:orders-eu_2", "x".repeat(128)]) {
      expect(validateName(ok, "queue name")).toBe(ok);
    }
    for (const bad of ["", ".", "..", "...", "a b", "a/b", "x".repeat(129), "ü", "a\u0000", 7, null]) {
      expect(() => validateName(bad, "queue name")).toThrow(
        expect.objectContaining({ code: "INVALID_OPTION", details: expect.objectContaining({ field: "queue name" }) }),
      );
    }
  });

  it("apply to queues and checks alike; a check name leaves room for its queue's prefix", () => {
    const cb = new Checkback({ store: new MemoryStore() });
    const definition = { schedule: ["1m"], probe: () => ({ status: "pending" as const }), worker: false as const };
    for (const name of ["", ".", "..", "...", "has space", "x".repeat(123)]) {
      expect(() => cb.check(name, definition)).toThrow(expect.objectContaining({ code: "INVALID_OPTION" }));
    }
    for (const name of ["..", "..."]) {
      expect(() => cb.queue(name)).toThrow(expect.objectContaining({ code: "INVALID_OPTION" }));
      expect(() => cb.worker(name, () => {})).toThrow(expect.objectContaining({ code: "INVALID_OPTION" }));
    }
    expect(cb.check("x".repeat(122), definition).queueName).toBe(`check.${"x".repeat(122)}`);
  });
});

describe("identifiers", () => {
  it("refuse NUL, unpaired surrogates, emptiness and excess length, naming the field", () => {
    for (const bad of ["", "a\u0000", "\ud800", "a\udc00b", "\udbff", "x".repeat(513), 5, undefined]) {
      expect(() => validateIdentifier(bad, "key", 512)).toThrow(
        expect.objectContaining({ code: "INVALID_OPTION", details: expect.objectContaining({ field: "key" }) }),
      );
    }
    for (const ok of ["k", "🔑", "a\u0001b", "x".repeat(512), "a b/../c"]) {
      expect(validateIdentifier(ok, "key", 512)).toBe(ok);
    }
  });
});

describe("runAt", () => {
  let cb: Checkback;
  beforeEach(() => {
    cb = new Checkback({ store: new MemoryStore() });
  });
  afterEach(() => cb.close());

  it("is bounded like a delay: at most 100 years ahead, wherever an instant is given", async () => {
    const queue = cb.queue("orders");
    const tooFar = [1e20, Number.MAX_SAFE_INTEGER, Date.now() + MAX_DURATION_MS + 60_000, new Date(8.64e15)];
    for (const runAt of tooFar) {
      await expect(queue.add({}, { runAt })).rejects.toMatchObject({
        code: "INVALID_OPTION",
        details: { field: "runAt" },
      });
    }
    expect(await queue.counts()).toEqual(empty);
    const job = await queue.add({}, { runAt: Date.now() + MAX_DURATION_MS - 60_000 });
    await expect(queue.reschedule(job.id, { runAt: 1e20 })).rejects.toMatchObject({ code: "INVALID_OPTION" });
    await expect(queue.redrive("all", { runAt: 1e20 })).rejects.toMatchObject({ code: "INVALID_OPTION" });
    await expect(queue.add({}, { runAt: new Date(Date.now() + 1000) })).resolves.toMatchObject({ state: "scheduled" });
  });
});

describe("payloads JSON cannot carry", () => {
  it.each([
    ["undefined in an object", { u: undefined }],
    ["undefined in an array", [1, undefined]],
    ["a hole in an array", new Array(2)],
    ["a nested function", { f: () => 1 }],
    ["a function in an array", [() => 1]],
    ["a nested symbol", { s: Symbol("s") }],
    ["NaN", { amount: Number.NaN }],
    ["Infinity", [Number.POSITIVE_INFINITY]],
    ["-Infinity at the top", Number.NEGATIVE_INFINITY],
    ["a nested BigInt", { deep: { amount: 10n } }],
    ["a toJSON giving undefined", { x: { toJSON: () => undefined } }],
  ])("are refused: %s", async (_what, payload) => {
    const cb = new Checkback({ store: new MemoryStore() });
    await expect(cb.queue("orders").add(payload)).rejects.toMatchObject({ code: "INVALID_PAYLOAD" });
    expect(await cb.queue("orders").counts()).toEqual(empty);
    await cb.close();
  });

  it("name the offending key", () => {
    expect(() => serializePayload({ order: { amount: Number.NaN } }, 1024)).toThrow(/payload key "amount" is NaN/);
  });

  it("let through what JSON carries exactly: dates as text, null, NUL and unpaired surrogates in strings", () => {
    const at = new Date(0);
    expect(JSON.parse(serializePayload({ at, n: null, s: "a\u0000\ud800" }, 1024))).toEqual({
      at: at.toISOString(),
      n: null,
      s: "a\u0000\ud800",
    });
  });
});

describe("a probe's done result", () => {
  it("follows the payload rules, so the probe fails at once rather than its outcome later", () => {
    expect(() => validateAnswer({ status: "done", result: { refund: undefined } })).toThrow(
      /probe answered done with a result that is not JSON: result key "refund" is undefined/,
    );
    expect(() => validateAnswer({ status: "done", result: [Number.NaN] })).toThrow(/NaN/);
    expect(validateAnswer({ status: "done", result: { paid: "a\u0000" } })).toEqual({
      status: "done",
      result: { paid: "a\u0000" },
    });
  });
});

describe("what a handler hands back", () => {
  let cb: Checkback;
  beforeEach(() => {
    cb = new Checkback({ store: new MemoryStore(), maxPayloadBytes: 1024 });
  });
  afterEach(() => cb.close());

  it("a result JSON cannot carry fails the attempt with a clear error, instead of becoming null", async () => {
    const queue = cb.queue("orders");
    const worker = cb.worker("orders", () => ({ total: 10n }));
    try {
      const job = await queue.add({}, { attempts: 1 });
      await until(async () => (await queue.get(job.id))?.state === "dead");
      const dead = await queue.get(job.id);
      expect(dead!.result).toBeNull();
      expect(dead!.errors).toHaveLength(1);
      expect(dead!.errors[0]!.message).toMatch(/result .*BigInt/);
    } finally {
      await worker.close();
    }
  });

  it("a result over the instance's size limit fails the attempt; returning nothing completes with null", async () => {
    const queue = cb.queue("orders");
    const worker = cb.worker<{ big: boolean }>("orders", (job) => (job.payload.big ? "x".repeat(2000) : undefined));
    try {
      const big = await queue.add({ big: true }, { attempts: 1 });
      const small = await queue.add({ big: false });
      await until(async () => (await queue.get(big.id))?.state === "dead");
      expect((await queue.get(big.id))!.errors[0]!.message).toMatch(/result is \d+ bytes, the limit is 1024/);
      await until(async () => (await queue.get(small.id))?.state === "completed");
      expect((await queue.get(small.id))!.result).toBeNull();
    } finally {
      await worker.close();
    }
  });

  it("later(delay, payload) is held to the instance's size limit and to what JSON carries", async () => {
    const queue = cb.queue<{ step: number }>("orders");
    const worker = cb.worker<{ step: number }>("orders", (job) => {
      if (job.payload.step === 0) return later(0, { step: 1, blob: "x".repeat(2000) });
      if (job.payload.step === 1) return later(0, { step: 2, missing: undefined });
      if (job.payload.step === 2) return later(0, { step: 3 });
      return undefined;
    });
    try {
      const big = await queue.add({ step: 0 }, { attempts: 1 });
      const lossy = await queue.add({ step: 1 }, { attempts: 1 });
      const fine = await queue.add({ step: 2 });
      await until(async () => (await queue.get(big.id))?.state === "dead");
      expect((await queue.get(big.id))!).toMatchObject({ payload: { step: 0 } });
      expect((await queue.get(big.id))!.errors[0]!.message).toMatch(
        /later\(\) payload is \d+ bytes, the limit is 1024/,
      );
      await until(async () => (await queue.get(lossy.id))?.state === "dead");
      expect((await queue.get(lossy.id))!.errors[0]!.message).toMatch(/later\(\) payload key "missing" is undefined/);
      await until(async () => (await queue.get(fine.id))?.state === "completed");
      expect((await queue.get(fine.id))!.payload).toEqual({ step: 3 });
    } finally {
      await worker.close();
    }
  });
});

describe("failure messages", () => {
  it("are recorded as well-formed text of bounded length", () => {
    expect(failureMessage(new Error("a\u0000b"))).toBe("a\u0000b");
    expect(failureMessage(new Error("x\ud800y\udc00"))).toBe("x\ufffdy\ufffd");
    expect(failureMessage(new Error("🔑"))).toBe("🔑");
    expect(failureMessage(new Error("x".repeat(MAX_ERROR_MESSAGE_LENGTH + 5)))).toHaveLength(MAX_ERROR_MESSAGE_LENGTH);
    expect(failureMessage("plain string")).toBe("plain string");
    expect(failureMessage(Object.create(null))).toEqual(expect.any(String));
  });
});
