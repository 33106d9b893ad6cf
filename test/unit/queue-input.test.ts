import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { CheckbackError, JobNotFoundError, PayloadTooLargeError } from "../../packages/checkback/src/core/errors.js";
import { MemoryStore } from "../../packages/checkback/src/stores/memory/memory-store.js";

/** Bad input is refused with a typed error and leaves the store exactly as it was. */
describe("bad input to a queue", () => {
  let cb: Checkback;
  const empty = { scheduled: 0, active: 0, completed: 0, dead: 0, cancelled: 0 };

  beforeEach(() => {
    cb = new Checkback({ store: new MemoryStore(), maxPayloadBytes: 1024 });
  });
  afterEach(() => cb.close());

  async function expectRefused(action: () => Promise<unknown>, code: string) {
    const error = await action().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CheckbackError);
    expect(error).toMatchObject({ code });
    expect(await cb.queue("orders").counts()).toEqual(empty);
  }

  it.each([
    [{ delay: "soon" }, "INVALID_DURATION"],
    [{ delay: -1 }, "INVALID_DURATION"],
    [{ delay: "5s", runAt: Date.now() }, "INVALID_OPTION"],
    [{ runAt: "tomorrow" }, "INVALID_OPTION"],
    [{ runAt: Number.NaN }, "INVALID_OPTION"],
    [{ attempts: 0 }, "INVALID_OPTION"],
    [{ attempts: 1.5 }, "INVALID_OPTION"],
    [{ key: "" }, "INVALID_OPTION"],
    [{ key: 42 }, "INVALID_OPTION"],
    [{ key: "x".repeat(513) }, "INVALID_OPTION"],
    [{ replace: "yes" }, "INVALID_OPTION"],
    [{ dealy: "5s" }, "INVALID_OPTION"],
    [{ backoff: { type: "sometimes" } }, "INVALID_OPTION"],
  ])("add with options %j → %s", async (options, code) => {
    await expectRefused(() => cb.queue("orders").add({ id: 1 }, options as never), code);
  });

  it.each([
    ["undefined", undefined],
    ["a function", () => 1],
    ["a BigInt", { amount: 10n }],
    [
      "a cycle",
      (() => {
        const a: Record<string, unknown> = {};
        a.self = a;
        return a;
      })(),
    ],
  ])("refuses a payload that is %s", async (_what, payload) => {
    await expectRefused(() => cb.queue("orders").add(payload), "INVALID_PAYLOAD");
  });

  it("refuses a payload over the size limit with its size and the limit", async () => {
    const error = await cb
      .queue("orders")
      .add({ blob: "x".repeat(2000) })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect(error).toMatchObject({ code: "PAYLOAD_TOO_LARGE", details: { limit: 1024 } });
    expect(await cb.queue("orders").counts()).toEqual(empty);
  });

  it("a bulk add with one bad item adds nothing", async () => {
    await expectRefused(
      () => cb.queue("orders").addBulk([{ payload: 1 }, { payload: 2 }, { payload: "x".repeat(5000) }, { payload: 4 }]),
      "PAYLOAD_TOO_LARGE",
    );
  });

  it("refuses bad queue names", () => {
    for (const name of ["", "has space", "x".repeat(129), "slash/name", 7]) {
      expect(() => cb.queue(name as never)).toThrow(expect.objectContaining({ code: "INVALID_OPTION" }));
    }
  });

  it("refuses unknown instance and worker options", () => {
    expect(() => new Checkback({ store: new MemoryStore(), maxPayload: 5 } as never)).toThrow(
      /unknown checkback option/,
    );
    expect(() => cb.worker("orders", async () => {}, { concurency: 5 } as never)).toThrow(/unknown worker option/);
    expect(() => cb.worker("orders", async () => {}, { concurrency: 0 })).toThrow(/concurrency/);
    expect(() => cb.worker("orders", async () => {}, { lease: "5ms" })).toThrow(/lease/);
    expect(() => cb.worker("orders", "not a function" as never)).toThrow(/handler/);
  });

  it("reports unknown jobs and wrong states on cancel and reschedule", async () => {
    const queue = cb.queue("orders");
    await expect(queue.cancel("404")).rejects.toBeInstanceOf(JobNotFoundError);
    await expect(queue.reschedule({ key: "nope" }, { delay: "1s" })).rejects.toBeInstanceOf(JobNotFoundError);
    const job = await queue.add({ id: 1 });
    expect(await queue.cancel(job.id)).toBe(true);
    expect(await queue.cancel(job.id)).toBe(false);
    await expect(queue.reschedule(job.id, { delay: "1s" })).rejects.toMatchObject({ code: "INVALID_STATE" });
    await expect(queue.reschedule(job.id, { delay: "whenever" })).rejects.toMatchObject({ code: "INVALID_DURATION" });
    await expect(queue.list("paused" as never)).rejects.toMatchObject({ code: "INVALID_OPTION" });
    await expect(queue.list("dead", { limit: 0 })).rejects.toMatchObject({ code: "INVALID_OPTION" });
    await expect(queue.purge("all", "scheduled" as never)).rejects.toMatchObject({ code: "INVALID_OPTION" });
  });
});

describe("queue names that are also event names", () => {
  it("a queue named error or close works like any other", async () => {
    const cb = new Checkback({ store: new MemoryStore() });
    for (const name of ["error", "close", "__proto__", "constructor"]) {
      const job = await cb.queue(name).add({ name });
      expect((await cb.queue(name).get(job.id))!.payload).toEqual({ name });
    }
    await cb.close();
  });
});
