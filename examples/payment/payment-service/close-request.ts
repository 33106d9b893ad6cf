import type { Check } from "checkback";
import type { Log } from "../shared/timeline.js";
import { type AlipayClient, isPaid } from "./alipay-client.js";
import type { PaymentBook } from "./payments.js";
import type { TradeCheckInput, TradePaid } from "./trade-check.js";

/**
 * The payment side's answer to "may this order close?":
 * - `closed`: yes — it never had a payment (and now never will: the order is sealed), or its
 *   trade is known closed (alipay.trade.close answered, or ACQ.TRADE_NOT_EXIST past time_expire
 *   plus the skew margin);
 * - `pending`: not yet — the trade is still being watched, or its outcome is being handed on;
 *   ask again later;
 * - `paid`: no — the money came in; the "paid" outcome is on its way (or already there).
 */
export interface CloseAnswer {
  state: "closed" | "pending" | "paid";
  detail: string;
}

export interface CloseRequestDeps {
  alipay: AlipayClient;
  payments: PaymentBook;
  check: Check<TradeCheckInput, TradePaid>;
  now: () => number;
  log: Log;
}

/**
 * The order side asks before closing an order: at its timeout (`timeout`: it closes only on
 * `closed`), or after a person closed it anyway (`cancelled`: the order is closed already; the
 * payment side closes the trade early if it can, and any money that still arrives goes back).
 */
export async function answerCloseRequest(
  orderId: string,
  reason: "timeout" | "cancelled",
  deps: CloseRequestDeps,
): Promise<CloseAnswer> {
  const { payments, check } = deps;
  const payment = payments.sealIfNoPayment(orderId, reason, deps.now());
  if (!payment) return { state: "closed", detail: "no payment was made; none can be now" };
  if (payment.status === "CLOSED") return { state: "closed", detail: "trade closed" };
  if (payment.status === "PAID") {
    const delivered = payments.outboxFor(payment.outTradeNo).every((row) => row.deliveredAt !== null);
    return { state: "paid", detail: delivered ? "paid; outcome delivered" : "paid; outcome on its way" };
  }
  // UNPAID: the check decides. Make sure there is one (the service may have stopped between
  // creating the payment and starting it).
  const status = await check.status(payment.outTradeNo);
  if (status === null) await check.start(payment.outTradeNo, { orderId });
  if (reason === "cancelled") {
    payments.markCancelled(payment.outTradeNo, deps.now());
    await closeEarly(payment.outTradeNo, deps);
  }
  const now = await check.status(payment.outTradeNo);
  return { state: "pending", detail: `check ${now?.state ?? "starting"}` };
}

/**
 * A person closed the order: close the trade now rather than at the check's deadline. Best
 * effort — on any doubt (gateway error, trade not opened yet) the check carries on and settles
 * it at its deadline as usual.
 */
async function closeEarly(outTradeNo: string, { alipay, check, log }: CloseRequestDeps): Promise<void> {
  try {
    const closed = await alipay.close(outTradeNo);
    log("payment", `order of ${outTradeNo} closed by a person; alipay.trade.close: ${closed}`);
    if (closed === "closed") await check.reject(outTradeNo, "TRADE_CLOSED");
    if (closed !== "not-open") return;
    // Refused: the shopper paid at the last second. The payment is paid; the order side will
    // answer its outcome with "refund".
    const trade = await alipay.query(outTradeNo);
    if (trade && isPaid(trade.status))
      await check.resolve(outTradeNo, {
        tradeNo: trade.tradeNo,
        tradeStatus: trade.status as TradePaid["tradeStatus"],
      });
    else if (trade?.status === "TRADE_CLOSED") await check.reject(outTradeNo, "TRADE_CLOSED");
  } catch (error) {
    log("payment", `early close of ${outTradeNo} failed (${(error as Error).message}); the check will close it`);
  }
}
