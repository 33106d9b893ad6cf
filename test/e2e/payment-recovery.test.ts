import { afterEach, describe, expect, test } from "vitest";
import { ORDER_TIMEOUT_MODES } from "../../examples/payment/order-service/timeouts.js";
import { waitFor } from "../../examples/payment/shared/wait-for.js";
import { answers, expectPaid, Harness } from "./payment-harness.js";

/**
 * Services stop and come back; nothing that was committed is lost on the way. Each service
 * restarts on its own databases (its SQLite file and its checkback store), as after a deploy.
 * Each runs with either way of finding timed-out orders: the delay queue and the scan.
 */
describe.each(ORDER_TIMEOUT_MODES)("payment example: restarts (order timeouts: %s)", (orderTimeoutMode) => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  test("the order service is down when the payment completes: the outcome waits in the outbox", async () => {
    harness = await Harness.start({ speed: 120, orderTimeoutMode });
    const purchase = await harness.buy();
    await harness.system.stop("order");
    await harness.shopper.pay(purchase.outTradeNo);

    // Paid, and the outcome committed with it, but not delivered: the relay keeps retrying.
    const payments = harness.system.payment.payments;
    await waitFor(
      () => payments.outboxFor(purchase.outTradeNo),
      (rows) => rows.length === 1,
    );
    expect(payments.get(purchase.outTradeNo)?.status).toBe("PAID");
    await new Promise((resolve) => setTimeout(resolve, harness!.system.clock.real("1m")));
    expect(payments.outboxFor(purchase.outTradeNo)[0]!.deliveredAt).toBeNull();

    await harness.system.start("order");
    const s = await harness.settled(purchase, "PAID");
    expectPaid(s, "either");
    expect(s.order.paymentOutcomes[0]!.deliveries).toBe(1);
  });

  test("the payment service restarts while the trade is watched: the check resumes and finds the payment", async () => {
    harness = await Harness.start({ speed: 120, orderTimeoutMode });
    const purchase = await harness.buy({ lostNotifies: "all" });
    await waitFor(
      () => harness!.snapshot(purchase),
      (snapshot) => snapshot.check.probes >= 1,
    );
    await harness.system.stop("payment");
    await harness.shopper.pay(purchase.outTradeNo);
    await new Promise((resolve) => setTimeout(resolve, harness!.system.clock.real("30s")));

    await harness.system.start("payment");
    const s = await harness.settled(purchase, "PAID");
    expectPaid(s, "probe");
    expect(answers(s).at(-1)).toBe("done");
    expect(s.check.probes).toBeGreaterThanOrEqual(2);
  });

  test("a notify refused while the payment service is down is delivered by Alipay's retry", async () => {
    // Speed 300: the 4-minute retry comes 0.8 s later, the check's deadline at 3 s. Every query
    // fails, so only the notify can settle it.
    harness = await Harness.start({ speed: 300, orderTimeoutMode });
    const purchase = await harness.buy({ systemErrors: 1000 });
    await harness.system.stop("payment");
    await harness.shopper.pay(purchase.outTradeNo);
    await waitFor(
      () => harness!.system.gateway.notifier.attempts.filter((a) => a.outTradeNo === purchase.outTradeNo),
      (attempts) => attempts.length === 1,
    );
    await harness.system.start("payment");

    const s = await harness.settled(purchase, "PAID");
    expectPaid(s, "resolve");
    expect(s.trade?.notifies.map((n) => n.outcome)).toEqual([expect.stringMatching(/^failed/), "success"]);
  });
});
