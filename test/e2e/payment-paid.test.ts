import { afterEach, describe, expect, test } from "vitest";
import { waitFor } from "../../examples/payment/shared/wait-for.js";
import { answers, expectPaid, Harness } from "./payment-harness.js";

/**
 * The paid stories, over real HTTP between the gateway sandbox, the payment service and the
 * order service. Each test picks a speed that puts its own moments (probe times vs. the moment
 * the shopper pays) hundreds of real milliseconds apart.
 */
describe("payment example: paid", () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  test("paid at once: the notify arrives first and resolves the check", async () => {
    // Queries take 30 s to answer: the first probe (sent at 10 s) cannot report the payment
    // before 40 s, far behind the notify, however slow the machine is to press "Pay".
    harness = await Harness.start({ speed: 20 });
    const purchase = await harness.buy({ slowAnswers: "30s" });
    const returnUrl = await harness.shopper.pay(purchase.outTradeNo);
    expect(returnUrl).toContain("/pay/return?");

    const s = await harness.settled(purchase, "PAID");
    expectPaid(s, "resolve");
    expect(s.check.probes).toBe(0);
    expect(s.trade?.notifies.map((n) => n.outcome)).toEqual(["success"]);
    expect(s.notifies).toEqual([
      expect.objectContaining({ tradeStatus: "TRADE_SUCCESS", verdict: "paid: check resolved" }),
    ]);
  });

  test("paid but every notify lost: a probe finds it", async () => {
    harness = await Harness.start({ speed: 120 });
    const purchase = await harness.buy({ lostNotifies: "all" });
    await harness.shopper.pay(purchase.outTradeNo);

    const s = await harness.settled(purchase, "PAID");
    expectPaid(s, "probe");
    expect(answers(s).at(-1)).toBe("done");
    expect(
      answers(s)
        .slice(0, -1)
        .every((answer) => answer === "pending"),
    ).toBe(true);
    expect(s.notifies).toEqual([]);
    expect(s.trade?.notifies.length).toBeGreaterThan(0);
    expect(s.trade?.notifies.every((n) => n.outcome === "lost")).toBe(true);
  });

  test("paid after three probes said pending: the notify ends the check", async () => {
    // The shopper pays 5 s after the third query; the fourth comes a minute after the third.
    harness = await Harness.start({ speed: 60 });
    const purchase = await harness.buy({ pay: { afterQuery: 3 } });

    const s = await harness.settled(purchase, "PAID");
    expectPaid(s, "resolve");
    expect(answers(s).length).toBeGreaterThanOrEqual(3);
    expect(answers(s).every((answer) => answer === "pending")).toBe(true);
  });

  test("paid after three probes, notify lost: the fourth probe finds it", async () => {
    harness = await Harness.start({ speed: 120 });
    const purchase = await harness.buy({ pay: { atQuery: 4 }, lostNotifies: "all" });

    const s = await harness.settled(purchase, "PAID");
    expectPaid(s, "probe");
    expect(answers(s).slice(-4)).toEqual(["pending", "pending", "pending", "done"]);
  });

  test("TRADE_FINISHED counts as paid, from a probe and from a notify", async () => {
    harness = await Harness.start({ speed: 120 });
    const byProbe = await harness.buy({ paidStatus: "TRADE_FINISHED", lostNotifies: "all" });
    await harness.shopper.pay(byProbe.outTradeNo);
    // Queries held for a minute: the notify is first by far.
    const byNotify = await harness.buy({ paidStatus: "TRADE_FINISHED", pay: { atQuery: 1 }, slowAnswers: "1m" });

    expectPaid(await harness.settled(byProbe, "PAID"), "probe", "TRADE_FINISHED");
    expectPaid(await harness.settled(byNotify, "PAID"), "resolve", "TRADE_FINISHED");
  });

  test("duplicate notifies are all answered success and hand on one outcome", async () => {
    harness = await Harness.start({ speed: 20 });
    const purchase = await harness.buy({ duplicateNotifies: 3, slowAnswers: "30s" });
    await harness.shopper.pay(purchase.outTradeNo);

    await harness.settled(purchase, "PAID");
    const s = await waitFor(
      () => harness!.snapshot(purchase),
      (snapshot) => snapshot.notifies.length === 4 && snapshot.trade?.notifies.length === 4,
    );
    expectPaid(s, "resolve");
    expect(s.trade?.notifies.map((n) => n.outcome)).toEqual(["success", "success", "success", "success"]);
    expect(s.notifies[0]!.verdict).toBe("paid: check resolved");
    for (const later of s.notifies.slice(1))
      expect(later.verdict).toMatch(/^(already paid|paid: check had already ended)$/);
    expect(s.order.paymentOutcomes[0]!.deliveries).toBe(1);
  });

  // In the racing tests queries are slow and the shopper pays just as the first query of the
  // open trade arrives: that probe's late answer says paid. The notify's arrival is moved
  // before, after and onto that moment.

  test("a probe in flight when the notify wins: its late answer changes nothing", async () => {
    harness = await Harness.start({ speed: 120 });
    const purchase = await harness.buy({ pay: { atQuery: 1 }, slowAnswers: "1m" });

    const s = await harness.settled(purchase, "PAID");
    expectPaid(s, "resolve");
    // Let the probe's TRADE_SUCCESS come back: it arrives after the end and is not recorded.
    await new Promise((resolve) => setTimeout(resolve, harness!.system.clock.real("1m15s")));
    const later = await harness.snapshot(purchase);
    expect(answers(later)).not.toContain("done");
    expect(later.check.probes).toBe(s.check.probes);
    expectPaid(later, "resolve");
  });

  test("a notify arriving after the probe won is answered success and changes nothing", async () => {
    harness = await Harness.start({ speed: 120 });
    const purchase = await harness.buy({ pay: { atQuery: 1 }, slowAnswers: "15s", notifyDelay: "2m" });

    const s = await harness.settled(purchase, "PAID");
    expectPaid(s, "probe");
    expect(answers(s).at(-1)).toBe("done");
    const late = await waitFor(
      () => harness!.snapshot(purchase),
      (snapshot) => snapshot.notifies.length === 1 && snapshot.trade?.notifies.length === 1,
    );
    expect(late.notifies[0]!.verdict).toMatch(/^(already paid|paid: check had already ended)$/);
    expect(late.trade?.notifies.map((n) => n.outcome)).toEqual(["success"]);
    expectPaid(late, "probe");
  });

  test("probe answers and notifies arriving together: one outcome each time", async () => {
    harness = await Harness.start({ speed: 60 });
    const notifyDelays = ["13s", "14s", "14.5s", "15s", "15.5s", "16s", "17s"];
    const purchases = await Promise.all(
      notifyDelays.map((notifyDelay) => harness!.buy({ pay: { atQuery: 1 }, slowAnswers: "15s", notifyDelay })),
    );
    for (const purchase of purchases) {
      const s = await harness.settled(purchase, "PAID");
      expectPaid(s, "either");
    }
  });
});
