import { randomUUID } from "node:crypto";
import { alipayTimestamp, type SimClock } from "../shared/sim-clock.js";
import type { Log } from "../shared/timeline.js";
import { contentToSign, rsa2Sign } from "./signing.js";
import type { BusinessTimers } from "./timers.js";
import type { Trade, TradeBook } from "./trades.js";

/**
 * Alipay's retry schedule for an asynchronous notify the merchant did not acknowledge: after
 * the first attempt, again at 4m, 10m, 10m, 1h, 2h, 6h and 15h — eight attempts over a day.
 */
export const NOTIFY_RETRY_DELAYS = ["4m", "10m", "10m", "1h", "2h", "6h", "15h"] as const;

export interface NotifyAttempt {
  outTradeNo: string;
  notifyId: string;
  tradeStatus: Trade["status"];
  attempt: number;
  /** Business time of the attempt. */
  at: Date;
  /** "success" (acknowledged), "lost" (dropped by the script), or what went wrong. */
  outcome: string;
}

/**
 * Sends the signed form POST that tells the merchant a trade changed, and keeps sending it on
 * Alipay's schedule until the merchant answers with exactly `success` — any other body, a
 * non-200, a timeout all count as "not received".
 */
export class Notifier {
  readonly attempts: NotifyAttempt[] = [];

  constructor(
    private readonly trades: TradeBook,
    private readonly clock: SimClock,
    private readonly timers: BusinessTimers,
    private readonly gatewayKey: string,
    private readonly log: Log,
  ) {}

  /** Starts a notify series for the trade's current status. */
  announce(trade: Trade): void {
    if (!trade.notifyUrl) return;
    const form = this.signedForm(trade);
    this.timers.after(this.trades.script(trade.outTradeNo).notifyDelay ?? 0, () => this.attempt(trade, form, 1));
  }

  private async attempt(trade: Trade, form: Record<string, string>, attempt: number): Promise<void> {
    const outcome = await this.deliver(trade, form);
    this.record(trade, form, attempt, outcome);
    if (outcome === "success") {
      // Alipay does, now and then, deliver an acknowledged notify again; receivers must cope.
      for (let copy = 1; copy <= (this.trades.script(trade.outTradeNo).duplicateNotifies ?? 0); copy++) {
        this.record(trade, form, attempt + copy, await this.deliver(trade, form));
      }
      return;
    }
    const delay = NOTIFY_RETRY_DELAYS[attempt - 1];
    if (delay === undefined) return; // the day is over; the merchant has to query
    this.timers.after(delay, () => this.attempt(trade, form, attempt + 1));
  }

  private record(trade: Trade, form: Record<string, string>, attempt: number, outcome: string): void {
    const tradeStatus = form.trade_status as Trade["status"];
    this.attempts.push({
      outTradeNo: trade.outTradeNo,
      notifyId: form.notify_id!,
      tradeStatus,
      attempt,
      at: this.clock.now(),
      outcome,
    });
    this.log("gateway", `notify #${attempt} ${tradeStatus} for ${trade.outTradeNo}: ${outcome}`);
  }

  private async deliver(trade: Trade, form: Record<string, string>): Promise<string> {
    const script = this.trades.script(trade.outTradeNo);
    if (script.lostNotifies === "all") return "lost";
    if (script.lostNotifies) {
      script.lostNotifies -= 1;
      return "lost";
    }
    try {
      const response = await fetch(trade.notifyUrl!, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
        body: new URLSearchParams(form).toString(),
        signal: AbortSignal.timeout(5_000),
      });
      const body = await response.text();
      if (response.status === 200 && body === "success") return "success";
      return `answered ${response.status} ${JSON.stringify(body.slice(0, 40))}`;
    } catch (error) {
      return `failed: ${(error as Error).message}`;
    }
  }

  private signedForm(trade: Trade): Record<string, string> {
    const form: Record<string, string> = {
      notify_time: alipayTimestamp(this.clock.now()),
      notify_type: "trade_status_sync",
      notify_id: randomUUID().replaceAll("-", ""),
      app_id: trade.appId,
      charset: "utf-8",
      version: "1.0",
      sign_type: "RSA2",
      trade_no: trade.tradeNo,
      out_trade_no: trade.outTradeNo,
      trade_status: trade.status,
      total_amount: trade.totalAmount,
      subject: trade.subject,
      gmt_create: alipayTimestamp(trade.createdAt),
    };
    if (trade.paidAt) {
      form.gmt_payment = alipayTimestamp(trade.paidAt);
      form.receipt_amount = trade.totalAmount;
      form.buyer_pay_amount = trade.totalAmount;
    }
    if (trade.closedAt) form.gmt_close = alipayTimestamp(trade.closedAt);
    // Notifies are signed without sign_type, unlike requests.
    form.sign = rsa2Sign(contentToSign(form, ["sign", "sign_type"]), this.gatewayKey);
    return form;
  }
}
