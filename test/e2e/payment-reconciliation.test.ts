import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { waitFor } from "../../examples/payment/shared/wait-for.js";
import { createCheckback } from "../../packages/checkback/src/index.js";
import { Harness } from "./payment-harness.js";

/**
 * The nightly reconciliation repairs what the live paths missed. Here the disagreements are
 * made by hand (an operator cancels a check; a payment row closed while Alipay took the money),
 * the kind no fault in the live paths should create, and the sweep must still find and repair
 * them; the random-fault test runs it after every schedule as well.
 */
describe("payment example: reconciliation", () => {
  let harness: Harness | undefined;
  let dataDir: string | undefined;
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test("a paid trade nobody watches any more, and money on a closed payment: both repaired", async () => {
    dataDir = mkdtempSync(join(tmpdir(), "checkback-reconcile-"));
    harness = await Harness.start({ speed: 60, dataDir });
    const lost = await harness.buy({ lostNotifies: "all" });
    const kept = await harness.buy({ lostNotifies: "all" });

    // An operator cancels both checks; then both shoppers pay, and every notify is lost.
    const operator = createCheckback({ store: `sqlite:${join(dataDir, "payment-jobs.db")}` });
    const check = operator.check("alipay-trade", {
      schedule: ["1m"],
      probe: ({ pending }) => pending(),
      worker: false,
    });
    await check.cancel(lost.outTradeNo);
    await check.cancel(kept.outTradeNo);
    await operator.close();
    await harness.shopper.pay(lost.outTradeNo);
    await harness.shopper.pay(kept.outTradeNo);
    // A payment row closed by hand although Alipay has the money.
    const payments = harness.system.payment.payments;
    payments.finish(kept.outTradeNo, "CLOSED", null, harness.system.clock.now().getTime());

    const run = await harness.system.payment.reconcile();
    expect(run.state).toBe("completed");
    const findings = payments.findings(run.runId);
    expect(findings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          outTradeNo: lost.outTradeNo,
          finding: "trade paid, payment UNPAID",
          repair: "marked PAID",
        }),
        expect.objectContaining({
          outTradeNo: kept.outTradeNo,
          finding: "trade paid, payment CLOSED",
          repair: "refund started",
        }),
      ]),
    );

    const paid = await waitFor(
      () => harness!.snapshot(lost),
      (s) => s.order.status === "PAID" && s.outbox[0]?.deliveredAt != null,
    );
    expect(paid.payment.status).toBe("PAID");
    expect(paid.order.paymentOutcomes).toEqual([expect.objectContaining({ outcome: "paid", deliveries: 1 })]);
    const refunded = await waitFor(
      () => harness!.snapshot(kept),
      (s) => s.refunds[0]?.status === "DONE" && s.order.status === "CLOSED",
    );
    expect(refunded.trade).toMatchObject({ status: "TRADE_CLOSED", refundedAmount: "88.00" });

    // The next night finds nothing left to repair.
    const again = await harness.system.payment.reconcile();
    expect(payments.findings(again.runId).filter((f) => f.repair !== null && !f.finding.startsWith("refund"))).toEqual(
      [],
    );
  });
});
