import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { ALIPAY_QUERY_RATE } from "../../examples/payment/payment-service/trade-check.js";
import { waitFor } from "../../examples/payment/shared/wait-for.js";
import { SANDBOX_APP_ID } from "../../examples/payment/system.js";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { Harness, type Purchase } from "./payment-harness.js";

/**
 * Alipay's query quota on the trade check: every probe joins the app's group, whose rate
 * limit is the quota, kept in the check's store across every process of the service.
 */
describe("payment example: Alipay's query quota", () => {
  let harness: Harness | undefined;
  let dataDir: string | undefined;
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    dataDir = undefined;
  });

  test("the trade check keeps the default quota as the app's group limit", async () => {
    dataDir = mkdtempSync(join(tmpdir(), "checkback-payment-quota-"));
    harness = await Harness.start({ speed: 60, dataDir });
    await harness.checkout();
    const reader = new Checkback({ store: `sqlite:${join(dataDir, "payment-jobs.db")}` });
    try {
      const state = await waitFor(
        () => reader.queue("check.alipay-trade").groupState(`alipay-app:${SANDBOX_APP_ID}`),
        (s) => s.limits.limit !== null,
      );
      expect(state.limits.limit).toEqual({ rate: ALIPAY_QUERY_RATE.rate, perMs: 100 });
      expect(state.ownLimits).toBe(true);
    } finally {
      await reader.close();
    }
  });

  test("the probes of every running check together stay within the quota", async () => {
    // One query a second for the whole app. At 120× the schedule's first probes (10 s, 10 s,
    // 30 s) come 83, 83 and 250 ms apart in real time: four unpaid checks unlimited would
    // probe a dozen times in half a second.
    harness = await Harness.start({ speed: 120, alipayQueryRate: { rate: 1, per: "1s" } });
    const purchases: Purchase[] = [];
    for (let i = 0; i < 4; i++) purchases.push(await harness.buy({ pay: "never" }));
    const snapshots = await waitFor(
      () => Promise.all(purchases.map((p) => harness!.snapshot(p))),
      (all) => all.reduce((sum, s) => sum + s.check.probes, 0) >= 5,
      20_000,
    );
    const probeTimes = snapshots.flatMap((s) => s.check.history.map((probe) => probe.at)).sort((a, b) => a - b);
    expect(probeTimes.length).toBeGreaterThanOrEqual(5);
    // A bucket of one refilled once a second: never more than two probes in any second (one
    // apart from the bucket's own, with a whole second of slack for a slow machine).
    for (let i = 2; i < probeTimes.length; i++) {
      expect(probeTimes[i]! - probeTimes[i - 2]!).toBeGreaterThanOrEqual(1_000);
    }
  });
});
