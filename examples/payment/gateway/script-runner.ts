import type { SimClock } from "../shared/sim-clock.js";
import type { Log } from "../shared/timeline.js";
import type { BusinessTimers } from "./timers.js";
import type { Refusal, Trade, TradeBook } from "./trades.js";

/** What a script makes the gateway answer instead of the truth. */
export type Fault = "unavailable" | "system-error" | null;

/**
 * Plays each trade's script (see script.ts): the simulated shopper who pays at a given moment,
 * and the gateway's own misbehaviour — errors, slowness — on the merchant's API calls.
 */
export class ScriptRunner {
  constructor(
    private readonly trades: TradeBook,
    private readonly clock: SimClock,
    private readonly timers: BusinessTimers,
    private readonly log: Log,
  ) {}

  /** The shopper has the cashier page in front of them. */
  cashierOpened(trade: Trade): void {
    this.log("shopper", `opens the cashier for ${trade.outTradeNo} (¥${trade.totalAmount})`);
    const plan = this.trades.script(trade.outTradeNo).pay;
    if (plan === "never") this.log("shopper", `walks away from ${trade.outTradeNo}`);
    else if (typeof plan === "string" && plan !== "at-close")
      this.timers.after(plan, () => this.payNow(trade.outTradeNo));
    else if (typeof plan === "number") this.timers.after(plan, () => this.payNow(trade.outTradeNo));
  }

  /** The shopper presses "Pay". Past time_expire the cashier refuses and the trade is closed. */
  payNow(outTradeNo: string): Trade | Refusal {
    const trade = this.trades.get(outTradeNo);
    if (trade?.expiresAt && trade.expiresAt <= this.clock.now() && trade.status === "WAIT_BUYER_PAY") {
      this.trades.close(outTradeNo, this.clock.now());
    }
    this.log("shopper", `pays ${outTradeNo}`);
    const paid = this.trades.pay(outTradeNo, this.clock.now());
    if (typeof paid === "string") this.log("gateway", `payment for ${outTradeNo} refused: ${paid}`);
    return paid;
  }

  /**
   * Runs before the gateway answers a merchant's call: lets an anchored shopper pay, waits out
   * `slowAnswers`, and says which fault (if any) to answer with.
   */
  async beforeAnswer(method: string, outTradeNo: string): Promise<Fault> {
    const script = this.trades.script(outTradeNo);
    const plan = script.pay;
    const query =
      method === "alipay.trade.query" && this.trades.get(outTradeNo) ? this.trades.countQuery(outTradeNo) : 0;
    if (typeof plan === "object" && "atQuery" in plan && plan.atQuery === query) this.payNow(outTradeNo);
    if (typeof plan === "object" && "afterQuery" in plan && plan.afterQuery === query) {
      this.timers.after("5s", () => this.payNow(outTradeNo));
    }
    if (plan === "at-close" && method === "alipay.trade.close") {
      // A payment the shopper confirmed before time_expire, completing as the close comes in:
      // the expiry rule does not apply to it, only the order of the two at the gateway.
      this.log("shopper", `pays ${outTradeNo} at the last moment`);
      this.trades.pay(outTradeNo, this.clock.now());
    }
    if (script.slowAnswers !== undefined) await this.timers.sleep(script.slowAnswers);
    if (this.trades.consume(outTradeNo, "unavailable")) return "unavailable";
    if (this.trades.consume(outTradeNo, "systemErrors")) return "system-error";
    if (method === "alipay.trade.close" && this.trades.consume(outTradeNo, "closeErrors")) return "system-error";
    if (method === "alipay.trade.refund" && this.trades.consume(outTradeNo, "refundErrors")) return "system-error";
    return null;
  }
}
