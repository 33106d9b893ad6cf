import { signBody } from "@checkback/client/signature";
import { afterEach, describe, expect, test } from "vitest";
import { ORDER_TIMEOUT_MODES } from "../../examples/payment/order-service/timeouts.js";
import type { SimClock } from "../../examples/payment/shared/sim-clock.js";
import { waitFor } from "../../examples/payment/shared/wait-for.js";
import { startPaymentSystem } from "../../examples/payment/system.js";
import { expectPaid, getJson, Harness } from "./payment-harness.js";

/**
 * Closing an order is a decision both sides make, and money for an order closed anyway goes
 * back. The first two tests are the reproductions of the lost-money bug: before, both ended
 * with the order CLOSED, the payment PAID and the money kept. The tests about the order
 * timeout run with either way of finding timed-out orders: the delay queue and the scan.
 */

/** Resolves at business minute `minute` counted from `origin` (the clock's elapsed ms). */
async function atMinute(clock: SimClock, origin: number, minute: number): Promise<void> {
  const wait = (origin + minute * 60_000 - clock.elapsed()) / clock.speed;
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}

describe.each(ORDER_TIMEOUT_MODES)("payment example: closing agreed (order timeouts: %s)", (orderTimeoutMode) => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  test("payment service down from minute 0 to 35, shopper pays at minute 1: the order ends PAID", async () => {
    harness = await Harness.start({ speed: 300, orderTimeoutMode });
    const origin = harness.system.clock.elapsed();
    const purchase = await harness.buy();
    await harness.system.stop("payment");
    await atMinute(harness.system.clock, origin, 1);
    await harness.shopper.pay(purchase.outTradeNo);
    // The order timeout (minute 30) finds the payment side unreachable: its job comes back
    // later, or the order is left for the next scan.
    await atMinute(harness.system.clock, origin, 35);
    expect(harness.system.order.orders.get(purchase.orderId)?.status).toBe("UNPAID");
    await harness.system.start("payment");

    const s = await harness.settled(purchase, "PAID");
    expectPaid(s, "either");
    expect(s.order.updatedAt - s.order.createdAt).toBeGreaterThanOrEqual(30 * 60_000);
  });

  test("order service down across its own timeout while PAID waits in the outbox: the order ends PAID", async () => {
    harness = await Harness.start({ speed: 300, orderTimeoutMode });
    const origin = harness.system.clock.elapsed();
    const purchase = await harness.buy();
    await harness.system.stop("order");
    await harness.shopper.pay(purchase.outTradeNo);
    const payments = harness.system.payment.payments;
    await waitFor(
      () => payments.outboxFor(purchase.outTradeNo),
      (rows) => rows.length === 1,
    );
    // On restart the due timeout job (or the scan's firing waiting since before the stop) runs
    // at once, likely before the relay's next retry: it asks, hears "paid", and leaves the
    // order; the outcome makes it PAID.
    await atMinute(harness.system.clock, origin, 32);
    await harness.system.start("order");

    const s = await harness.settled(purchase, "PAID");
    expectPaid(s, "either");
    expect(s.order.paymentOutcomes[0]!.deliveries).toBe(1);
  });

  test("the order timeout comes back later while the check runs; a payment at the last second makes it PAID", async () => {
    // The check's deadline (19 + 2 min) is past the order timeout (20 min).
    harness = await Harness.start({ speed: 600, orderTimeout: "20m", payWindow: "19m", orderTimeoutMode });
    const purchase = await harness.buy({ pay: "at-close" });
    const s = await harness.settled(purchase, "PAID");
    expect(s.check.state).toBe("gave_up");
    expect(s.payment.status).toBe("PAID");
    expect(s.trade?.status).toBe("TRADE_SUCCESS");
    expect(s.order.paymentOutcomes).toEqual([expect.objectContaining({ outcome: "paid", effect: "order paid" })]);
    // No bound on when it became PAID: at 600x one real second is ten business minutes, so
    // whether the outcome lands just before or after the 20-minute timeout is the machine's doing.
    // What must hold either way: it was never closed, and the one outcome made it PAID.
  });

  test("never clicked pay: the timeout seals the order at the payment side, and a late 'pay' is refused", async () => {
    const log: string[] = [];
    harness = await Harness.start({ speed: 600, orderTimeoutMode, log: (_, text) => log.push(text) });
    const { orderId, payUrl } = await harness.shopper.placeOrder("a book", 8800);
    // GET /pay changes nothing: it only shows the button.
    const page = await fetch(payUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('method="post"');
    expect(harness.system.payment.payments.forOrder(orderId)).toBeNull();

    await waitFor(
      () => harness!.system.order.orders.get(orderId)?.status,
      (status) => status === "CLOSED",
    );
    const late = await fetch(payUrl, { method: "POST", redirect: "manual" });
    expect(late.status).toBe(409);
    expect(await late.json()).toEqual({ error: "order is CLOSED" });
    expect(harness.system.payment.payments.forOrder(orderId)).toBeNull();
    // Found by the configured way: its job, or a scan.
    expect(log).toContainEqual(
      `order ${orderId} closed: unpaid at its timeout (no payment was made; none can be now; ${orderTimeoutMode})`,
    );
  });
});

describe("payment example: closing agreed, refunds", () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  test("a shopper is not told 409 while the order shows UNPAID: a settled payment's outcome is handed on first", async () => {
    harness = await Harness.start({ speed: 600 });
    const purchase = await harness.buy({ pay: "never" });
    // Whenever "pay" meets a settled payment, its outcome is handed on before the answer, so the
    // 409 always comes with an order that shows it.
    await waitFor(
      () => harness!.system.payment.payments.get(purchase.outTradeNo)?.status,
      (status) => status === "CLOSED",
    );
    const payUrl = `${harness.system.payment.url}/pay/${purchase.orderId}`;
    const answer = await fetch(payUrl, { method: "POST", redirect: "manual" });
    const order = (await getJson(`${harness.system.order.url}/orders/${purchase.orderId}`)) as { status: string };
    expect(answer.status).toBe(409);
    expect(order.status).toBe("CLOSED");
  });

  test("a person closes the order while the shopper pays at the last second: the money goes back", async () => {
    harness = await Harness.start({ speed: 120 });
    const purchase = await harness.buy({ pay: "at-close" });
    expect(await harness.shopper.cancel(purchase.orderId)).toBe(200);

    const s = await waitFor(
      () => harness!.snapshot(purchase),
      (snap) =>
        snap.trade?.status === "TRADE_CLOSED" &&
        snap.refunds.length === 1 &&
        snap.refunds[0]!.status === "DONE" &&
        snap.order.paymentOutcomes.length === 1,
    );
    expect(s.order.status).toBe("CLOSED");
    expect(s.payment.status).toBe("PAID");
    expect(s.trade?.refundedAmount).toBe("88.00");
    expect(s.trade?.refunds).toEqual([
      expect.objectContaining({ outRequestNo: `${purchase.outTradeNo}-R1`, amountCents: 8800 }),
    ]);
    expect(s.order.paymentOutcomes[0]!.effect).toBe("refund: paid while the order was CLOSED");
    expect(s.alerts.map((a) => a.kind)).toEqual(["refund"]);
  });

  test("a refund that keeps failing goes dead with an alert; a person redrives it", async () => {
    harness = await Harness.start({ speed: 120, refundAttempts: 2 });
    const purchase = await harness.buy({ pay: "at-close", refundErrors: 10 });
    await harness.shopper.cancel(purchase.orderId);
    let s = await waitFor(
      () => harness!.snapshot(purchase),
      (snap) => snap.refunds[0]?.status === "FAILED",
      20_000,
    );
    expect(s.alerts.map((a) => a.kind)).toEqual(["refund", "refund-failed"]);
    expect(s.trade?.status).toBe("TRADE_SUCCESS");

    await harness.shopper.script(purchase.outTradeNo, { refundErrors: 0 });
    const redrive = await fetch(`${harness.system.payment.url}/refunds/redrive`, { method: "POST" });
    expect(await redrive.json()).toEqual({ redriven: 1 });
    s = await waitFor(
      () => harness!.snapshot(purchase),
      (snap) => snap.refunds[0]?.status === "DONE",
    );
    expect(s.trade).toMatchObject({ status: "TRADE_CLOSED", refundedAmount: "88.00" });
  });

  test("service-to-service calls must be signed, and an outcome must carry the order's amount", async () => {
    harness = await Harness.start({ speed: 20 });
    const purchase = await harness.checkout();
    const { order, payment } = harness.system;
    const outcome = {
      eventId: "payment-outcome:forged",
      outTradeNo: purchase.outTradeNo,
      orderId: purchase.orderId,
      outcome: "paid",
      amountCents: 1,
    };
    const post = (url: string, body: unknown, secret?: string) => {
      const text = JSON.stringify(body);
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (secret) headers["checkback-signature"] = signBody(secret, `POST ${new URL(url).pathname}\n${text}`);
      return fetch(url, { method: "POST", headers, body: text });
    };
    expect((await post(`${order.url}/payment-outcomes`, outcome)).status).toBe(401);
    expect((await post(`${order.url}/payment-outcomes`, outcome, "a wrong secret of some length")).status).toBe(401);
    expect((await post(`${payment.url}/orders/${purchase.orderId}/close`, { reason: "cancelled" })).status).toBe(401);
    // Signed, but for 1 cent: refused.
    const wrongAmount = await post(`${order.url}/payment-outcomes`, outcome, harness.system.serviceSecret);
    expect(wrongAmount.status).toBe(422);
    expect(harness.system.order.orders.get(purchase.orderId)?.status).toBe("UNPAID");
    expect(harness.system.order.orders.outcomesFor(purchase.orderId)).toEqual([]);
  });

  test("the payment window must be shorter than the order timeout", async () => {
    await expect(startPaymentSystem({ payWindow: "30m", orderTimeout: "30m" })).rejects.toThrow(/shorter/);
  });
});
