import { formatAmount, parseAmount } from "../shared/money.js";
import { alipayTimestamp, type SimClock } from "../shared/sim-clock.js";
import type { Log } from "../shared/timeline.js";
import { type AlipayError, businessError } from "./requests.js";
import type { Refusal, Trade, TradeBook } from "./trades.js";

export const SYSTEM_ERROR = businessError("ACQ.SYSTEM_ERROR", "系统错误");

const REFUSAL_TEXT: Record<Refusal, string> = {
  "ACQ.TRADE_NOT_EXIST": "交易不存在",
  "ACQ.TRADE_STATUS_ERROR": "交易状态不合法",
  "ACQ.TRADE_HAS_CLOSE": "交易已经关闭",
  "ACQ.TRADE_HAS_FINISHED": "交易已完结",
  "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL": "退款金额超限",
  "ACQ.CONTEXT_INCONSISTENT": "交易信息被篡改",
};

const refusal = (code: Refusal): AlipayError => businessError(code, REFUSAL_TEXT[code]);
const missing = (what: string): AlipayError => ({
  code: "40002",
  msg: "Invalid Arguments",
  sub_code: "isv.missing-parameter",
  sub_msg: `缺少必选参数 ${what}`,
});

const text = (value: unknown) => (typeof value === "string" && value !== "" ? value : undefined);

/** The trade a call names: by trade_no (which wins, as at Alipay) or out_trade_no, among the merchant's own. */
export function tradeOf(trades: TradeBook, appId: string, biz: Record<string, unknown>): Trade | undefined {
  return trades.find(appId, { tradeNo: text(biz.trade_no), outTradeNo: text(biz.out_trade_no) });
}

/**
 * The merchant-facing calls: alipay.trade.query, alipay.trade.close, alipay.trade.refund and
 * alipay.trade.fastpay.refund.query, answered with the inner object of `{method}_response`
 * (the caller signs it). A merchant only sees its own trades.
 */
export function answerCall(
  method: string,
  appId: string,
  biz: Record<string, unknown>,
  { trades, clock, log }: { trades: TradeBook; clock: SimClock; log: Log },
): object {
  if (!text(biz.trade_no) && !text(biz.out_trade_no)) return missing("out_trade_no/trade_no");
  const trade = tradeOf(trades, appId, biz);
  const name = trade?.outTradeNo ?? text(biz.out_trade_no) ?? text(biz.trade_no);
  switch (method) {
    case "alipay.trade.query":
      return trade ? queryAnswer(trade) : refusal("ACQ.TRADE_NOT_EXIST");
    case "alipay.trade.close": {
      const closed = trade ? trades.close(trade.outTradeNo, clock.now()) : "ACQ.TRADE_NOT_EXIST";
      log("gateway", `close ${name}: ${typeof closed === "string" ? closed : "closed"}`);
      if (typeof closed === "string") return refusal(closed);
      return { code: "10000", msg: "Success", trade_no: closed.tradeNo, out_trade_no: closed.outTradeNo };
    }
    case "alipay.trade.refund": {
      const amountCents = parseAmount(biz.refund_amount);
      if (amountCents === null) return missing("refund_amount");
      if (!trade) return refusal("ACQ.TRADE_NOT_EXIST");
      // Without out_request_no a refund is the trade's one full refund, named after it.
      const outRequestNo = text(biz.out_request_no) ?? trade.outTradeNo;
      const result = trades.refund(trade, { outRequestNo, amountCents }, clock.now());
      log(
        "gateway",
        `refund ${formatAmount(amountCents)} of ${name} (${outRequestNo}): ${typeof result === "string" ? result : result.fundChange === "Y" ? "refunded" : "already refunded"}`,
      );
      if (typeof result === "string") return refusal(result);
      return {
        code: "10000",
        msg: "Success",
        trade_no: result.trade.tradeNo,
        out_trade_no: result.trade.outTradeNo,
        buyer_logon_id: "san***@sandbox.example",
        fund_change: result.fundChange,
        refund_fee: result.trade.refundedAmount,
        gmt_refund_pay: alipayTimestamp(result.refund.refundedAt),
      };
    }
    case "alipay.trade.fastpay.refund.query": {
      const outRequestNo = text(biz.out_request_no);
      if (!outRequestNo) return missing("out_request_no");
      if (!trade) return refusal("ACQ.TRADE_NOT_EXIST");
      const refund = trades.refunds(trade.tradeNo).find((r) => r.outRequestNo === outRequestNo);
      const answer = {
        code: "10000",
        msg: "Success",
        trade_no: trade.tradeNo,
        out_trade_no: trade.outTradeNo,
        out_request_no: outRequestNo,
        total_amount: trade.totalAmount,
      };
      // No refund_status: Alipay has no refund by that number (never received, or it failed).
      if (!refund) return answer;
      return {
        ...answer,
        refund_amount: formatAmount(refund.amountCents),
        refund_status: "REFUND_SUCCESS",
        gmt_refund_pay: alipayTimestamp(refund.refundedAt),
      };
    }
    default:
      return businessError("isv.invalid-method", `不存在的方法名 ${method}`);
  }
}

function queryAnswer(trade: Trade): object {
  const paid = trade.paidAt !== null;
  return {
    code: "10000",
    msg: "Success",
    trade_no: trade.tradeNo,
    out_trade_no: trade.outTradeNo,
    buyer_logon_id: "san***@sandbox.example",
    trade_status: trade.status,
    total_amount: trade.totalAmount,
    ...(paid ? { buyer_pay_amount: trade.totalAmount, send_pay_date: alipayTimestamp(trade.paidAt!) } : {}),
  };
}
