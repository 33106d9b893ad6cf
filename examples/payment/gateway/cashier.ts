import { parseAmount } from "../shared/money.js";
import { alipayTimestamp, parseAlipayTimestamp, type SimClock } from "../shared/sim-clock.js";
import { contentToSign, rsa2Sign } from "./signing.js";
import type { Trade, TradeBook } from "./trades.js";

/**
 * alipay.trade.page.pay, after its signature checked out: opens the trade the link describes
 * (or shows the one already open for that out_trade_no). Returns the trade, or why not.
 */
export function openTrade(
  request: { appId: string; sellerId: string; biz: Record<string, unknown>; params: Record<string, string> },
  trades: TradeBook,
  clock: SimClock,
): { trade: Trade; opened: boolean } | { refused: string } {
  const { appId, sellerId, biz, params } = request;
  const outTradeNo = typeof biz.out_trade_no === "string" ? biz.out_trade_no : "";
  const totalAmount = typeof biz.total_amount === "string" ? biz.total_amount : "";
  if (!outTradeNo || parseAmount(totalAmount) === null || typeof biz.subject !== "string") {
    return { refused: "out_trade_no, total_amount and subject are required" };
  }
  const existing = trades.get(outTradeNo);
  if (existing) {
    if (existing.totalAmount !== totalAmount || existing.appId !== appId) {
      return { refused: "ACQ.CONTEXT_INCONSISTENT: the trade was opened with other details" };
    }
    return { trade: existing, opened: false };
  }
  const expiresAt = typeof biz.time_expire === "string" ? parseAlipayTimestamp(biz.time_expire) : null;
  if (expiresAt && expiresAt <= clock.now()) return { refused: "This payment has expired." };
  const trade = trades.open({
    outTradeNo,
    appId,
    sellerId,
    subject: biz.subject,
    totalAmount,
    notifyUrl: params.notify_url ?? null,
    returnUrl: params.return_url ?? null,
    createdAt: clock.now(),
    expiresAt,
  });
  return { trade, opened: true };
}

/** Where the cashier sends the browser after paying: signed like a notify, but only ever a hint. */
export function returnUrlFor(trade: Trade, clock: SimClock, gatewayKey: string): string {
  const params: Record<string, string> = {
    app_id: trade.appId,
    method: "alipay.trade.page.pay.return",
    charset: "utf-8",
    version: "1.0",
    sign_type: "RSA2",
    timestamp: alipayTimestamp(clock.now()),
    trade_no: trade.tradeNo,
    out_trade_no: trade.outTradeNo,
    total_amount: trade.totalAmount,
  };
  params.sign = rsa2Sign(contentToSign(params, ["sign", "sign_type"]), gatewayKey);
  const url = new URL(trade.returnUrl!);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url.toString();
}
