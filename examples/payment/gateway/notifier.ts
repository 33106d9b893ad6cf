import { randomUUID } from "node:crypto";
import type Database from "better-sqlite3";
import type { Duration } from "checkback";
import { parseDuration } from "checkback";
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

interface Series {
  notify_id: string;
  out_trade_no: string;
  notify_url: string;
  form: string;
  next_attempt: number;
  due_at: number;
}

/**
 * Sends the signed form POST that tells the merchant a trade changed, and keeps sending it on
 * Alipay's schedule until the merchant answers with exactly `success` — any other body, a
 * non-200, a timeout all count as "not received". Each series is kept in the sandbox's
 * database, so a restarted sandbox goes on with the notifies it still owes.
 */
export class Notifier {
  constructor(
    private readonly db: Database.Database,
    private readonly trades: TradeBook,
    private readonly clock: SimClock,
    private readonly timers: BusinessTimers,
    private readonly gatewayKey: string,
    private readonly log: Log,
  ) {}

  /** Every attempt so far, oldest first. */
  get attempts(): NotifyAttempt[] {
    return (
      this.db.prepare("SELECT * FROM notify_attempts ORDER BY id").all() as {
        out_trade_no: string;
        notify_id: string;
        trade_status: Trade["status"];
        attempt: number;
        at: number;
        outcome: string;
      }[]
    ).map((row) => ({
      outTradeNo: row.out_trade_no,
      notifyId: row.notify_id,
      tradeStatus: row.trade_status,
      attempt: row.attempt,
      at: new Date(row.at),
      outcome: row.outcome,
    }));
  }

  /** Starts a notify series for the trade's current status. */
  announce(trade: Trade): void {
    if (!trade.notifyUrl) return;
    const form = this.signedForm(trade);
    const delay = parseDuration(this.trades.script(trade.outTradeNo).notifyDelay ?? 0);
    this.db
      .prepare(
        "INSERT INTO notify_series (notify_id, out_trade_no, notify_url, form, next_attempt, due_at) VALUES (?, ?, ?, ?, 1, ?)",
      )
      .run(form.notify_id, trade.outTradeNo, trade.notifyUrl, JSON.stringify(form), this.clock.now().getTime() + delay);
    this.schedule(form.notify_id!, delay);
  }

  /** After a restart: the series not yet acknowledged (nor given up) go on where they were. */
  resume(): void {
    const open = this.db.prepare("SELECT notify_id, due_at FROM notify_series WHERE done = 0").all() as Series[];
    for (const series of open) this.schedule(series.notify_id, Math.max(0, series.due_at - this.clock.now().getTime()));
  }

  private schedule(notifyId: string, delay: Duration): void {
    this.timers.after(delay, () => this.attempt(notifyId));
  }

  private async attempt(notifyId: string): Promise<void> {
    const series = this.db.prepare("SELECT * FROM notify_series WHERE notify_id = ? AND done = 0").get(notifyId) as
      | Series
      | undefined;
    if (!series) return;
    const form = JSON.parse(series.form) as Record<string, string>;
    const attempt = series.next_attempt;
    const outcome = await this.deliver(series, form);
    this.record(series, form, attempt, outcome);
    if (outcome === "success") {
      this.db.prepare("UPDATE notify_series SET done = 1 WHERE notify_id = ?").run(notifyId);
      // Alipay does, now and then, deliver an acknowledged notify again; receivers must cope.
      for (let copy = 1; copy <= (this.trades.script(series.out_trade_no).duplicateNotifies ?? 0); copy++) {
        this.record(series, form, attempt + copy, await this.deliver(series, form));
      }
      return;
    }
    const delay = NOTIFY_RETRY_DELAYS[attempt - 1];
    if (delay === undefined) {
      // The day is over; the merchant has to query.
      this.db.prepare("UPDATE notify_series SET done = 1 WHERE notify_id = ?").run(notifyId);
      return;
    }
    this.db
      .prepare("UPDATE notify_series SET next_attempt = ?, due_at = ? WHERE notify_id = ?")
      .run(attempt + 1, this.clock.now().getTime() + parseDuration(delay), notifyId);
    this.schedule(notifyId, delay);
  }

  private record(series: Series, form: Record<string, string>, attempt: number, outcome: string): void {
    this.db
      .prepare(
        "INSERT INTO notify_attempts (out_trade_no, notify_id, trade_status, attempt, at, outcome) VALUES (?, ?, ?, ?, ?, ?)",
      )
      .run(series.out_trade_no, series.notify_id, form.trade_status, attempt, this.clock.now().getTime(), outcome);
    this.log("gateway", `notify #${attempt} ${form.trade_status} for ${series.out_trade_no}: ${outcome}`);
  }

  private async deliver(series: Series, form: Record<string, string>): Promise<string> {
    if (this.trades.consume(series.out_trade_no, "lostNotifies")) return "lost";
    try {
      const response = await fetch(series.notify_url, {
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

  /** The fields of Alipay's trade_status_sync notify (those a page-pay trade has). */
  private signedForm(trade: Trade): Record<string, string> {
    const form: Record<string, string> = {
      notify_time: alipayTimestamp(this.clock.now()),
      notify_type: "trade_status_sync",
      notify_id: randomUUID().replaceAll("-", ""),
      app_id: trade.appId,
      auth_app_id: trade.appId,
      seller_id: trade.sellerId,
      seller_email: "merchant@sandbox.example",
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
      Object.assign(form, {
        buyer_id: "2088102177846880",
        buyer_logon_id: "san***@sandbox.example",
        gmt_payment: alipayTimestamp(trade.paidAt),
        receipt_amount: trade.totalAmount,
        invoice_amount: trade.totalAmount,
        buyer_pay_amount: trade.totalAmount,
        point_amount: "0.00",
        fund_bill_list: JSON.stringify([{ amount: trade.totalAmount, fundChannel: "ALIPAYACCOUNT" }]),
      });
    }
    if (trade.closedAt) form.gmt_close = alipayTimestamp(trade.closedAt);
    if (trade.refundedAmount !== "0.00") {
      const last = this.trades.refunds(trade.tradeNo).at(-1)!;
      Object.assign(form, {
        refund_fee: trade.refundedAmount,
        gmt_refund: alipayTimestamp(last.refundedAt),
        out_biz_no: last.outRequestNo,
      });
    }
    // Notifies are signed without sign_type, unlike requests.
    form.sign = rsa2Sign(contentToSign(form, ["sign", "sign_type"]), this.gatewayKey);
    return form;
  }
}
