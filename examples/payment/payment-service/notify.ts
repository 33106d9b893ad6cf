import type { Check } from "checkback";
import { parseAmount } from "../shared/money.js";
import { type AlipayClient, isPaid } from "./alipay-client.js";
import type { PaymentBook } from "./payments.js";
import type { RefundDesk } from "./refunds.js";
import type { TradeCheckInput, TradePaid } from "./trade-check.js";

export interface NotifyDeps {
  alipay: AlipayClient;
  appId: string;
  sellerId: string;
  payments: PaymentBook;
  refunds: RefundDesk;
  now: () => number;
  check: Check<TradeCheckInput, TradePaid>;
}

export interface NotifyVerdict {
  /** The body Alipay gets: only `success` stops its retries. */
  answer: "success" | "fail";
  verdict: string;
}

/**
 * Alipay's asynchronous notify. A notify is only believed if it is signed by Alipay, is for our
 * app id and our seller id, names a payment we have and carries its exact amount (Alipay's docs
 * ask for all four); anything else is refused and
 * changes nothing. A believed notify ends the trade's check (resolve / reject) — the check's
 * outcome job then changes the payment, exactly as when a probe ends it — and is answered
 * `success`, also when it repeats something we already know: a paid trade is never answered `fail`.
 */
export async function receiveNotify(form: Record<string, string>, deps: NotifyDeps): Promise<NotifyVerdict> {
  if (!deps.alipay.verifyNotify(form)) return { answer: "fail", verdict: "rejected: bad signature" };
  if (form.app_id !== deps.appId) return { answer: "fail", verdict: `rejected: app_id ${form.app_id} is not ours` };
  if (form.seller_id !== deps.sellerId)
    return { answer: "fail", verdict: `rejected: seller_id ${form.seller_id ?? "(none)"} is not ours` };
  const payment = deps.payments.get(form.out_trade_no ?? "");
  if (!payment) return { answer: "fail", verdict: "rejected: unknown out_trade_no" };
  if (parseAmount(form.total_amount) !== payment.amountCents) {
    return { answer: "fail", verdict: `rejected: total_amount ${form.total_amount} does not match` };
  }

  const status = form.trade_status ?? "";
  if (payment.status === "UNPAID" && (await deps.check.status(payment.outTradeNo)) === null) {
    // The service stopped between creating the payment and starting its check: start it now,
    // so there is a check for this notify to end.
    await deps.check.start(payment.outTradeNo, { orderId: payment.orderId });
  }
  if (isPaid(status)) {
    if (payment.status === "PAID") return { answer: "success", verdict: "already paid" };
    if (payment.status === "CLOSED") {
      // Cannot happen while payments close only once their trade is known closed; if it does
      // (a gateway that took money after time_expire), the money goes back, and a person hears of it.
      deps.payments.requestRefund(payment.outTradeNo, "paid notify for a closed payment", deps.now());
      await deps.refunds.flush(payment.outTradeNo);
      return { answer: "success", verdict: "ALERT: paid notify for a closed payment, refunding" };
    }
    const tradePaid: TradePaid = { tradeNo: form.trade_no ?? "", tradeStatus: status as TradePaid["tradeStatus"] };
    const ended = await deps.check.resolve(payment.outTradeNo, tradePaid);
    return { answer: "success", verdict: ended ? "paid: check resolved" : "paid: check had already ended" };
  }
  if (status === "TRADE_CLOSED") {
    const ended = payment.status === "UNPAID" && (await deps.check.reject(payment.outTradeNo, "TRADE_CLOSED"));
    return { answer: "success", verdict: ended ? "closed: check ended" : "closed: nothing to do" };
  }
  return { answer: "success", verdict: `${status}: nothing to do` };
}
