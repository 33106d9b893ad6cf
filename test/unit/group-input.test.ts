import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { ValidationError } from "../../packages/checkback/src/core/errors.js";
import { MemoryStore } from "../../packages/checkback/src/stores/memory/memory-store.js";

/** Groups in the library API: bad input is refused with a typed error naming the field, and nothing is kept. */
describe("group input", () => {
  let cb: Checkback;
  const empty = { scheduled: 0, active: 0, completed: 0, dead: 0, cancelled: 0 };

  beforeEach(() => {
    cb = new Checkback({ store: new MemoryStore() });
  });
  afterEach(() => cb.close());

  /** The call is refused with INVALID_OPTION naming `field`, and the queue holds nothing and keeps no group state. */
  async function expectRefused(action: () => Promise<unknown>, field: string) {
    const error = await action().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ code: "INVALID_OPTION", details: { field } });
    const queue = cb.queue("orders");
    expect(await queue.counts()).toEqual(empty);
    expect((await queue.flowSettings()).groupLimits).toBeNull();
    expect(await queue.groupState("g")).toMatchObject({ ownLimits: false, pausedUntil: null, scheduled: 0 });
  }

  it("adds a job to a group and shows the group wherever the job is shown", async () => {
    const queue = cb.queue("orders");
    const added = await queue.add({ n: 1 }, { group: "merchant-7", key: "o1" });
    expect(added.group).toBe("merchant-7");
    expect((await queue.get({ key: "o1" }))!.group).toBe("merchant-7");
    expect((await queue.list("scheduled")).jobs[0]!.group).toBe("merchant-7");
    const [bulk, plain] = await queue.addBulk([
      { payload: 2, options: { group: "merchant-8" } },
      { payload: 3, options: { group: null } },
    ]);
    expect([bulk!.group, plain!.group]).toEqual(["merchant-8", null]);
    expect(await queue.groupState("merchant-7")).toMatchObject({ scheduled: 1, active: 0 });
  });

  it.each([
    ["an empty group", { group: "" }, "group"],
    ["a group over 256 characters", { group: "x".repeat(257) }, "group"],
    ["a group that is not a string", { group: 42 }, "group"],
    ["a group with a control character", { group: "a\nb" }, "group"],
    ["a group and a priority", { group: "g", priority: 3 }, "priority"],
  ])("refuses %s on add, and on a bulk add of which it is one item", async (_what, options, field) => {
    await expectRefused(() => cb.queue("orders").add({}, options as never), field);
    await expectRefused(
      () =>
        cb.queue("orders").addBulk([
          { payload: 1, options: { group: "g" } },
          { payload: 2, options: options as never },
        ]),
      field,
    );
  });

  it.each([
    ["a concurrency of 0", { concurrency: 0 }, "concurrency"],
    ["a fractional concurrency", { concurrency: 1.5 }, "concurrency"],
    ["a concurrency over 1,000,000", { concurrency: 1_000_001 }, "concurrency"],
    ["a concurrency given as text", { concurrency: "2" }, "concurrency"],
    ["a rate of 0", { rate: { rate: 0, per: "1s" } }, "rate"],
    ["an unknown limit", { concurrency: 2, burst: 3 }, "burst"],
    ["a string", "fast", "limits"],
    ["an array", [{ concurrency: 1 }], "limits"],
  ])("refuses %s as group limits, for the queue's default and for one group", async (_what, limits, field) => {
    const queue = cb.queue("orders");
    await expectRefused(() => queue.limitGroups(limits as never), field);
    await expectRefused(() => queue.limitGroup("g", limits as never), field);
  });

  it("refuses a call on one group that names none, or a bad one", async () => {
    const queue = cb.queue("orders");
    for (const group of [undefined, null, "", 7, "tab\there"]) {
      await expectRefused(() => queue.limitGroup(group as never, { concurrency: 1 }), "group");
      await expectRefused(() => queue.pauseGroup(group as never, { delay: "1s" }), "group");
      await expectRefused(() => queue.resumeGroup(group as never), "group");
      await expectRefused(() => queue.groupState(group as never), "group");
    }
    await expectRefused(() => queue.pauseGroup("g", {} as never), "until");
    await expectRefused(() => queue.busiestGroups(0), "limit");
    await expectRefused(() => queue.busiestGroups(1001), "limit");
  });

  it("keeps good limits and pauses, and lifts them", async () => {
    const queue = cb.queue("orders");
    await queue.limitGroups({ concurrency: 2, rate: { rate: 10, per: "1s" } });
    expect((await queue.flowSettings()).groupLimits).toEqual({ concurrency: 2, limit: { rate: 10, perMs: 1000 } });
    await queue.limitGroup("vip", { concurrency: 5 });
    expect(await queue.groupState("vip")).toMatchObject({
      ownLimits: true,
      limits: { concurrency: 5, limit: null },
      tokens: null,
    });
    expect(await queue.groupState("other")).toMatchObject({ ownLimits: false, limits: { concurrency: 2 }, tokens: 10 });
    await queue.pauseGroup("vip", { delay: "1m" });
    expect((await queue.groupState("vip")).pausedUntil).toBeGreaterThan(Date.now() + 50_000);
    await queue.resumeGroup("vip");
    expect((await queue.groupState("vip")).pausedUntil).toBeNull();
    await queue.limitGroup("vip", null);
    await queue.limitGroups({ concurrency: null, rate: null });
    expect((await queue.flowSettings()).groupLimits).toBeNull();
    expect(await queue.groupState("vip")).toMatchObject({
      ownLimits: false,
      limits: { concurrency: null, limit: null },
    });
    expect(await queue.busiestGroups()).toEqual({ groups: [], activeGroups: 0 });
  });
});
