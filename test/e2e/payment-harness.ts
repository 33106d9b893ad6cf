import { expect } from "vitest";
import type { TradeScript } from "../../examples/payment/gateway/script.js";
import { parseOrderTimeoutMode } from "../../examples/payment/order-service/timeouts.js";
import { newKeyPair } from "../../examples/payment/shared/keys.js";
import { waitFor } from "../../examples/payment/shared/wait-for.js";
import { Shopper } from "../../examples/payment/shopper.js";
import { type PaymentSystem, type PaymentSystemOptions, startPaymentSystem } from "../../examples/payment/system.js";
import type { CheckStatus } from "../../packages/checkback/src/index.js";

let sharedKeys: PaymentSystemOptions["keys"];

/** Everything the four parties know about one order, read over HTTP like any client would. */
export interface Snapshot {
  order: {
    id: string;
    status: string;
    createdAt: number;
    updatedAt: number;
    paymentOutcomes: { eventId: string; outcome: string; effect: string; deliveries: number }[];
  };
  payment: { status: string; tradeNo: string | null; amountCents: number };
  outbox: { deliveredAt: number | null; body: { outcome: string } }[];
  notifies: { tradeStatus: string; verdict: string }[];
  check: CheckStatus<unknown, { tradeNo: string; tradeStatus: string }>;
  refunds: { outRequestNo: string; status: string; amountCents: number }[];
  alerts: { kind: string; text: string }[];
  /** null: the gateway never heard of the trade (the shopper never opened the cashier). */
  trade: {
    status: string;
    totalAmount: string;
    refundedAmount: string;
    refunds: { outRequestNo: string; amountCents: number }[];
    notifies: { attempt: number; outcome: string; at: string }[];
  } | null;
}

export interface Purchase {
  orderId: string;
  outTradeNo: string;
  cashierUrl: string;
}

/**
 * One payment system per test, at a speed picked so the scenario's own timing is far from any
 * edge (probe intervals vs. the moment the shopper pays), with helpers to drive it and read it.
 */
export class Harness {
  readonly shopper: Shopper;

  private constructor(readonly system: PaymentSystem) {
    this.shopper = new Shopper(system.order.url, system.gateway.url);
  }

  /** Order timeouts as `options` say, else as ORDER_TIMEOUT_MODE says (default: the delay queue). */
  static async start(options: PaymentSystemOptions): Promise<Harness> {
    sharedKeys ??= { gateway: newKeyPair(), merchant: newKeyPair() };
    const orderTimeoutMode = parseOrderTimeoutMode(process.env.ORDER_TIMEOUT_MODE);
    return new Harness(await startPaymentSystem({ keys: sharedKeys, orderTimeoutMode, ...options }));
  }

  /** Places an order, follows "pay" (the payment and its check now exist) and scripts the trade; the cashier is not opened. */
  async checkout(script: TradeScript = {}, amountCents = 8800): Promise<Purchase> {
    const { orderId, payUrl } = await this.shopper.placeOrder("a book", amountCents);
    const { outTradeNo, cashierUrl } = await this.shopper.checkout(payUrl);
    await this.shopper.script(outTradeNo, script);
    return { orderId, outTradeNo, cashierUrl };
  }

  /** checkout, then open the cashier. */
  async buy(script: TradeScript = {}, amountCents = 8800): Promise<Purchase> {
    const purchase = await this.checkout(script, amountCents);
    await this.shopper.openCashier(purchase.cashierUrl);
    return purchase;
  }

  async snapshot({ orderId, outTradeNo }: Purchase): Promise<Snapshot> {
    const [order, payment, trade] = await Promise.all([
      getJson(`${this.system.order.url}/orders/${orderId}`),
      getJson(`${this.system.payment.url}/payments/${outTradeNo}`),
      getJson(`${this.system.gateway.url}/sandbox/trades/${outTradeNo}`, true),
    ]);
    const {
      payment: paymentRow,
      check,
      outbox,
      notifies,
      refunds,
      alerts,
    } = payment as Pick<Snapshot, "check" | "outbox" | "notifies" | "refunds" | "alerts"> & {
      payment: Snapshot["payment"];
    };
    return {
      order: order as Snapshot["order"],
      payment: paymentRow,
      check,
      outbox,
      notifies,
      refunds,
      alerts,
      trade: trade as Snapshot["trade"],
    };
  }

  /**
   * Waits until the story is over: the order reached `orderStatus`, the payment left UNPAID,
   * the check ended and its outcome was handled, and the outbox delivered.
   */
  settled(purchase: Purchase, orderStatus: "PAID" | "CLOSED", timeoutMs = 15_000): Promise<Snapshot> {
    return waitFor(
      () => this.snapshot(purchase),
      (s) =>
        s.order.status === orderStatus &&
        s.payment.status !== "UNPAID" &&
        s.check.outcome?.state === "completed" &&
        s.outbox.every((row) => row.deliveredAt !== null) &&
        s.order.paymentOutcomes.length > 0,
      timeoutMs,
    );
  }

  close(): Promise<void> {
    return this.system.close();
  }
}

/** Exactly one outcome left the payment service and exactly one was applied to the order. */
export function expectExactlyOneOutcome(snapshot: Snapshot, outcome: "paid" | "closed"): void {
  expect(snapshot.outbox).toHaveLength(1);
  expect(snapshot.outbox[0]!.body.outcome).toBe(outcome);
  expect(snapshot.order.paymentOutcomes).toHaveLength(1);
  expect(snapshot.order.paymentOutcomes[0]!.outcome).toBe(outcome);
}

/** Paid everywhere, with one outcome. `endedBy`: who must have ended the check ("either" when the test does not decide it). */
export function expectPaid(s: Snapshot, endedBy: "probe" | "resolve" | "either", tradeStatus = "TRADE_SUCCESS"): void {
  expect(s.order.status).toBe("PAID");
  expect(s.payment.status).toBe("PAID");
  expect(s.payment.tradeNo).toMatch(/^\d{20,}$/);
  expect(s.trade?.status).toBe(tradeStatus);
  expect(s.check.state).toBe("done");
  if (endedBy === "either") expect(["probe", "resolve"]).toContain(s.check.endedBy);
  else expect(s.check.endedBy).toBe(endedBy);
  expect(s.check.result?.tradeStatus).toBe(tradeStatus);
  expectExactlyOneOutcome(s, "paid");
  expect(s.order.paymentOutcomes[0]!.effect).toBe("order paid");
}

export async function getJson(url: string, allowMissing = false): Promise<unknown> {
  const response = await fetch(url);
  if (allowMissing && response.status === 404) return null;
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** Answers in the check's history, oldest first: "pending" | "done" | "failed" | "error". */
export const answers = (s: Snapshot) => s.check.history.map((probe) => probe.answer);
