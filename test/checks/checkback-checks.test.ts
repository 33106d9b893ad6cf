import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Checkback, type CheckDefinition, type CheckOutcome } from "../../packages/checkback/src/index.js";

interface Order {
  order: string;
}
interface Trade {
  tradeNo: string;
}

/** Checks through the public entry point, on a SQLite file shared by two instances (two processes). */
describe("checks on Checkback instances sharing a SQLite file", () => {
  const dirs: string[] = [];
  const instances: Checkback[] = [];
  afterEach(async () => {
    for (const instance of instances.splice(0)) await instance.close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function open(url: string): Checkback {
    const instance = new Checkback({ store: url });
    instances.push(instance);
    return instance;
  }

  async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
    const giveUpAt = Date.now() + 10_000;
    for (;;) {
      const value = await probe();
      if (done(value)) return value;
      if (Date.now() > giveUpAt) throw new Error(`gave up waiting; last: ${JSON.stringify(value)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  it("a front end without a worker starts and resolves; a back end probes and delivers; state survives restarts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "checkback-checks-api-"));
    dirs.push(dir);
    const url = `sqlite:${join(dir, "app.db")}`;
    const delivered: CheckOutcome<Order, Trade>[] = [];
    const definition: CheckDefinition<Order, Trade> = {
      schedule: { every: "20ms", times: 100 },
      probe: ({ probe, done, pending }) => (probe >= 3 ? done({ tradeNo: "T-probe" }) : pending()),
      onDone: (outcome) => {
        delivered.push(outcome);
      },
    };

    // The web tier: starts checks and takes notifications, runs no probes.
    const front = open(url).check("payment", { ...definition, worker: false });
    expect((await front.start("by-probe", { order: "o1" })).created).toBe(true);
    expect((await front.start("by-notification", { order: "o2" })).created).toBe(true);
    expect(await front.resolve("by-notification", { tradeNo: "T-notify" })).toBe(true);
    // A fixed wait, for what must NOT happen: a probe run by a tier without a worker.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await front.status("by-probe"))!.probes).toBe(0);

    // The back end comes up later, in another "process" (its own connection), and catches up.
    const back = open(url).check("payment", definition);
    const probed = await until(
      () => front.status("by-probe"),
      (s) => s?.outcome?.state === "completed",
    );
    expect(probed).toMatchObject({ state: "done", endedBy: "probe", result: { tradeNo: "T-probe" }, probes: 3 });
    await until(
      () => back.status("by-notification"),
      (s) => s?.outcome?.state === "completed",
    );
    expect(delivered.map((o) => [o.key, o.result?.tradeNo, o.endedBy]).sort()).toEqual([
      ["by-notification", "T-notify", "resolve"],
      ["by-probe", "T-probe", "probe"],
    ]);

    // Everything is in the file: a fresh instance sees the same history.
    await instances.splice(0).reduce((closing, instance) => closing.then(() => instance.close()), Promise.resolve());
    const reopened = open(url).check("payment", { ...definition, worker: false });
    expect(await reopened.status("by-probe")).toMatchObject({ state: "done", probes: 3, history: probed!.history });
    expect(await reopened.resolve("by-probe", { tradeNo: "late" })).toBe(false);
  });
});
