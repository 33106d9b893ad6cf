import { afterEach, describe, expect, test } from "vitest";
import { ORDER_TIMEOUT_MODES } from "../../examples/payment/order-service/timeouts.js";
import { waitFor } from "../../examples/payment/shared/wait-for.js";
import { answers, expectExactlyOneOutcome, expectPaid, Harness, type Snapshot } from "./payment-harness.js";

/**
 * The stories where the money does not come (or comes through a flaky gateway). Speed 600:
 * the 15-minute payment window passes in 1.5 s and the 30-minute order timeout in 3 s. Each
 * runs with either way of finding timed-out orders: the delay queue and the scan.
 */
describe.each(ORDER_TIMEOUT_MODES)(
  "payment example: not paid, and a flaky gateway (order timeouts: %s)",
  (orderTimeoutMode) => {
    let harness: Harness | undefined;
    afterEach(async () => {
      await harness?.close();
      harness = undefined;
    });

    function expectGaveUpAndClosed(s: Snapshot): void {
      expect(s.payment.status).toBe("CLOSED");
      expect(s.check.state).toBe("gave_up");
      expect(s.check.endedBy).toBe("deadline");
      expect(s.check.reason).toBe("deadline reached");
      expect(s.check.outcome?.state).toBe("completed");
      expectExactlyOneOutcome(s, "closed");
      // The payment side closes only once the trade is known closed, after time_expire (15 min)
      // plus the clock-skew margin; its "closed" outcome closes the order then, both sides agreeing.
      expect(s.order.status).toBe("CLOSED");
      expect(s.order.paymentOutcomes[0]!.effect).toMatch(/^order closed/);
      expect(s.order.updatedAt - s.order.createdAt).toBeGreaterThanOrEqual(15 * 60_000);
    }

    test("never paid: the check gives up, the trade is closed, and so is the order", async () => {
      harness = await Harness.start({ speed: 600, orderTimeoutMode });
      const purchase = await harness.buy({ pay: "never" });

      const s = await harness.settled(purchase, "CLOSED");
      expectGaveUpAndClosed(s);
      expect(s.trade?.status).toBe("TRADE_CLOSED");
      expect(answers(s).length).toBeGreaterThanOrEqual(2);
      expect(answers(s).every((answer) => answer === "pending")).toBe(true);

      // The closed trade takes no money any more: a shopper coming back to the tab is refused.
      const late = await fetch(`${harness.system.gateway.url}/cashier/${purchase.outTradeNo}/pay`, { method: "POST" });
      expect(late.status).toBe(409);
      expect((await harness.snapshot(purchase)).payment.status).toBe("CLOSED");
    });

    test("never opened: every query says ACQ.TRADE_NOT_EXIST, and after time_expire the cashier refuses", async () => {
      harness = await Harness.start({ speed: 600, orderTimeoutMode });
      const purchase = await harness.checkout();

      const s = await harness.settled(purchase, "CLOSED");
      expectGaveUpAndClosed(s);
      expect(s.trade).toBeNull();
      expect(answers(s).every((answer) => answer === "pending")).toBe(true);

      // The close answered ACQ.TRADE_NOT_EXIST; what makes that safe is time_expire: the link
      // the shopper still has can no longer open a trade.
      const opened = await fetch(purchase.cashierUrl);
      expect(opened.status).toBe(400);
      expect(await opened.text()).toContain("expired");
      expect((await harness.snapshot(purchase)).trade).toBeNull();
    });

    test("gateway errors and ACQ.TRADE_NOT_EXIST between the probes, then a probe finds the payment", async () => {
      harness = await Harness.start({ speed: 120, orderTimeoutMode });
      // First query: HTTP 503; second: ACQ.SYSTEM_ERROR; third: not opened yet; then the shopper
      // opens the cashier and pays as the next query arrives; every notify is lost.
      const purchase = await harness.checkout({
        systemErrors: 1,
        unavailable: 1,
        pay: { atQuery: 1 },
        lostNotifies: "all",
      });
      await waitFor(
        () => harness!.snapshot(purchase),
        (snapshot) => snapshot.check.history.length >= 3,
      );
      await harness.shopper.openCashier(purchase.cashierUrl);

      const s = await harness.settled(purchase, "PAID");
      expectPaid(s, "probe");
      expect(answers(s).slice(0, 3)).toEqual(["error", "error", "pending"]);
      expect(answers(s).at(-1)).toBe("done");
      expect(s.check.history[0]!.error).toContain("503");
      expect(s.check.history[1]!.error).toContain("ACQ.SYSTEM_ERROR");
    });

    test("a close refused by a gateway error is retried until it goes through", async () => {
      harness = await Harness.start({ speed: 600, orderTimeoutMode });
      const purchase = await harness.buy({ pay: "never", closeErrors: 2 });

      const s = await harness.settled(purchase, "CLOSED");
      expectGaveUpAndClosed(s);
      expect(s.trade?.status).toBe("TRADE_CLOSED");
      expect(s.check.outcome?.attempts).toBe(3);
      expect(s.check.outcome?.errors).toHaveLength(2);
      for (const error of s.check.outcome!.errors) expect(error).toContain("ACQ.SYSTEM_ERROR");
    });

    test("paid just as the check gave up: the close is refused and the payment is recorded paid", async () => {
      harness = await Harness.start({ speed: 600, orderTimeoutMode });
      // Every notify is lost and the shopper pays as the merchant's close arrives.
      const purchase = await harness.buy({ pay: "at-close", lostNotifies: "all" });

      const s = await harness.settled(purchase, "PAID");
      expect(s.check.state).toBe("gave_up");
      expect(s.trade?.status).toBe("TRADE_SUCCESS");
      expect(s.payment.status).toBe("PAID");
      expectExactlyOneOutcome(s, "paid");
      expect(s.order.paymentOutcomes[0]!.effect).toBe("order paid");
      // The order's own timeout comes later and leaves the paid order alone.
      await waitFor(
        () => harness!.snapshot(purchase),
        () => harness!.system.clock.elapsed() > 35 * 60_000,
      );
      expect((await harness.snapshot(purchase)).order.status).toBe("PAID");
    });
  },
);
