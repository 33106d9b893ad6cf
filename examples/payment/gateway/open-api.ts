import { alipayTimestamp, type SimClock } from "../shared/sim-clock.js";
import type { Log } from "../shared/timeline.js";
import { type AlipayError, businessError } from "./requests.js";
import type { Refusal, Trade, TradeBook } from "./trades.js";

export const SYSTEM_ERROR = businessError("ACQ.SYSTEM_ERROR", "系统错误");

/**
 * The merchant-facing calls: alipay.trade.query and alipay.trade.close, answered with the
 * inner object of `{method}_response` (the caller signs it). A merchant only sees its own trades.
 */
export function answerCall(
  method: string,
  appId: string,
  outTradeNo: string,
  { trades, clock, log }: { trades: TradeBook; clock: SimClock; log: Log },
): object {
  const found = trades.get(outTradeNo);
  const trade = found && found.appId === appId ? found : undefined;
  switch (method) {
    case "alipay.trade.query":
      return trade ? queryAnswer(trade) : refusal("ACQ.TRADE_NOT_EXIST");
    case "alipay.trade.close": {
      const closed = trade ? trades.close(outTradeNo, clock.now()) : "ACQ.TRADE_NOT_EXIST";
      log("gateway", `close ${outTradeNo}: ${typeof closed === "string" ? closed : "closed"}`);
      if (typeof closed === "string") return refusal(closed);
      return { code: "10000", msg: "Success", trade_no: closed.tradeNo, out_trade_no: outTradeNo };
    }
    default:
      return businessError("isv.invalid-method", `不存在的方法名 ${method}`);
  }
}

function queryAnswer(trade: Trade): object {
  const paid = trade.status === "TRADE_SUCCESS" || trade.status === "TRADE_FINISHED";
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

function refusal(code: Refusal): AlipayError {
  const text: Record<Refusal, string> = {
    "ACQ.TRADE_NOT_EXIST": "交易不存在",
    "ACQ.TRADE_STATUS_ERROR": "交易状态不合法",
    "ACQ.TRADE_HAS_CLOSE": "交易已经关闭",
  };
  return businessError(code, text[code]);
}
