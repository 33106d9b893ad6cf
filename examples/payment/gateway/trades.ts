import { randomInt } from "node:crypto";
import type Database from "better-sqlite3";
import { formatAmount, parseAmount } from "../shared/money.js";
import type { TradeScript } from "./script.js";

export type TradeStatus = "WAIT_BUYER_PAY" | "TRADE_CLOSED" | "TRADE_SUCCESS" | "TRADE_FINISHED";

export interface Trade {
  tradeNo: string;
  outTradeNo: string;
  appId: string;
  /** The merchant's seller id (PID, "2088…"): notifies carry it, receivers must check it. */
  sellerId: string;
  subject: string;
  /** Decimal string, as the merchant sent it ("88.00"). */
  totalAmount: string;
  status: TradeStatus;
  notifyUrl: string | null;
  returnUrl: string | null;
  createdAt: Date;
  /** From the merchant's `time_expire`: the cashier refuses to take money after it. */
  expiresAt: Date | null;
  paidAt: Date | null;
  closedAt: Date | null;
  /** What was refunded so far, as a decimal string ("0.00" when nothing). */
  refundedAmount: string;
}

export interface Refund {
  outRequestNo: string;
  amountCents: number;
  refundedAt: Date;
}

/** What the sandbox can say about a trade it was asked to change. */
export type Refusal =
  | "ACQ.TRADE_NOT_EXIST"
  | "ACQ.TRADE_STATUS_ERROR"
  | "ACQ.TRADE_HAS_CLOSE"
  | "ACQ.TRADE_HAS_FINISHED"
  | "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"
  | "ACQ.CONTEXT_INCONSISTENT";

export interface RefundResult {
  trade: Trade;
  /** "Y": money moved now; "N": this out_request_no had already been refunded (the idempotent repeat). */
  fundChange: "Y" | "N";
  refund: Refund;
}

interface TradeRow {
  trade_no: string;
  out_trade_no: string;
  app_id: string;
  seller_id: string;
  subject: string;
  total_amount: string;
  status: TradeStatus;
  notify_url: string | null;
  return_url: string | null;
  created_at: number;
  expires_at: number | null;
  paid_at: number | null;
  closed_at: number | null;
  refunded_cents: number;
}

const date = (ms: number | null) => (ms === null ? null : new Date(ms));

const SELECT = `SELECT t.*, (SELECT coalesce(sum(amount_cents), 0) FROM refunds r WHERE r.trade_no = t.trade_no) AS refunded_cents FROM trades t`;

/**
 * The gateway's trades, in its SQLite file (they survive a sandbox restart). The rules are Alipay's:
 * - a trade exists only once the shopper opens the cashier page, so the merchant's query
 *   answers ACQ.TRADE_NOT_EXIST until then;
 * - WAIT_BUYER_PAY → TRADE_SUCCESS | TRADE_FINISHED (paid) or → TRADE_CLOSED (closed by the
 *   merchant, or expired); a closed trade is final;
 * - only a TRADE_SUCCESS trade takes refunds, partial ones up to what was paid; one
 *   out_request_no is one refund (asked again, it answers the same, moving no money); a full
 *   refund closes the trade (TRADE_CLOSED);
 * - one out_trade_no is one trade: opening the page again shows the same trade.
 */
export class TradeBook {
  private readonly queries = new Map<string, number>();

  constructor(
    private readonly db: Database.Database,
    private readonly onChange: (trade: Trade) => void,
  ) {}

  get(outTradeNo: string): Trade | undefined {
    return this.read(`${SELECT} WHERE t.out_trade_no = ? ORDER BY t.created_at LIMIT 1`, outTradeNo);
  }

  /** A merchant's trade by Alipay's trade_no (which wins when both are given) or its out_trade_no. */
  find(appId: string, ids: { tradeNo?: string; outTradeNo?: string }): Trade | undefined {
    if (ids.tradeNo) return this.read(`${SELECT} WHERE t.trade_no = ? AND t.app_id = ?`, ids.tradeNo, appId);
    if (ids.outTradeNo) return this.read(`${SELECT} WHERE t.out_trade_no = ? AND t.app_id = ?`, ids.outTradeNo, appId);
    return undefined;
  }

  all(): Trade[] {
    return (this.db.prepare(`${SELECT} ORDER BY t.created_at`).all() as TradeRow[]).map(toTrade);
  }

  refunds(tradeNo: string): Refund[] {
    return (
      this.db
        .prepare(
          "SELECT out_request_no, amount_cents, refunded_at FROM refunds WHERE trade_no = ? ORDER BY refunded_at",
        )
        .all(tradeNo) as { out_request_no: string; amount_cents: number; refunded_at: number }[]
    ).map((r) => ({
      outRequestNo: r.out_request_no,
      amountCents: r.amount_cents,
      refundedAt: new Date(r.refunded_at),
    }));
  }

  script(outTradeNo: string): TradeScript {
    const row = this.db.prepare("SELECT script FROM scripts WHERE out_trade_no = ?").get(outTradeNo) as
      | { script: string }
      | undefined;
    return row ? (JSON.parse(row.script) as TradeScript) : {};
  }

  setScript(outTradeNo: string, script: TradeScript): void {
    this.db
      .prepare(
        "INSERT INTO scripts (out_trade_no, script) VALUES (?, ?) ON CONFLICT (out_trade_no) DO UPDATE SET script = excluded.script",
      )
      .run(outTradeNo, JSON.stringify({ ...this.script(outTradeNo), ...script }));
  }

  /** Takes one from a per-trade counter (systemErrors, closeErrors, unavailable, lostNotifies); true if there was one. */
  consume(
    outTradeNo: string,
    counter: "systemErrors" | "closeErrors" | "refundErrors" | "unavailable" | "lostNotifies",
  ): boolean {
    const script = this.script(outTradeNo);
    const left = script[counter];
    if (left === "all") return true;
    if (!left) return false;
    this.setScript(outTradeNo, { [counter]: left - 1 } as TradeScript);
    return true;
  }

  /** Counts a merchant query of an open trade; returns which one it is (1 for the first). */
  countQuery(outTradeNo: string): number {
    const count = (this.queries.get(outTradeNo) ?? 0) + 1;
    this.queries.set(outTradeNo, count);
    return count;
  }

  open(request: Omit<Trade, "tradeNo" | "status" | "paidAt" | "closedAt" | "refundedAmount">): Trade {
    const existing = this.get(request.outTradeNo);
    if (existing) return existing;
    this.db
      .prepare(
        `INSERT INTO trades (trade_no, out_trade_no, app_id, seller_id, subject, total_amount, status, notify_url,
                             return_url, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, 'WAIT_BUYER_PAY', ?, ?, ?, ?)`,
      )
      .run(
        newTradeNo(request.createdAt),
        request.outTradeNo,
        request.appId,
        request.sellerId,
        request.subject,
        request.totalAmount,
        request.notifyUrl,
        request.returnUrl,
        request.createdAt.getTime(),
        request.expiresAt?.getTime() ?? null,
      );
    return this.get(request.outTradeNo)!;
  }

  pay(outTradeNo: string, at: Date): Trade | Refusal {
    const trade = this.get(outTradeNo);
    if (!trade) return "ACQ.TRADE_NOT_EXIST";
    if (trade.status === "TRADE_CLOSED") return "ACQ.TRADE_HAS_CLOSE";
    if (trade.status !== "WAIT_BUYER_PAY") return "ACQ.TRADE_STATUS_ERROR";
    const status = this.script(outTradeNo).paidStatus ?? "TRADE_SUCCESS";
    this.db
      .prepare("UPDATE trades SET status = ?, paid_at = ? WHERE trade_no = ?")
      .run(status, at.getTime(), trade.tradeNo);
    return this.changed(trade.tradeNo);
  }

  close(outTradeNo: string, at: Date): Trade | Refusal {
    const trade = this.get(outTradeNo);
    if (!trade) return "ACQ.TRADE_NOT_EXIST";
    if (trade.status !== "WAIT_BUYER_PAY") return "ACQ.TRADE_STATUS_ERROR";
    this.db
      .prepare("UPDATE trades SET status = 'TRADE_CLOSED', closed_at = ? WHERE trade_no = ?")
      .run(at.getTime(), trade.tradeNo);
    return this.changed(trade.tradeNo);
  }

  /** alipay.trade.refund's rules, in one transaction. */
  refund(trade: Trade, request: { outRequestNo: string; amountCents: number }, at: Date): RefundResult | Refusal {
    const result = this.db.transaction((): RefundResult | Refusal => {
      const current = this.get(trade.outTradeNo)!;
      const same = this.refunds(current.tradeNo).find((r) => r.outRequestNo === request.outRequestNo);
      if (same) {
        // The same request again (a retry after a timeout): the same answer, no money moves.
        if (same.amountCents !== request.amountCents) return "ACQ.CONTEXT_INCONSISTENT";
        return { trade: current, fundChange: "N", refund: same };
      }
      if (current.status === "TRADE_FINISHED") return "ACQ.TRADE_HAS_FINISHED";
      if (current.status !== "TRADE_SUCCESS") return "ACQ.TRADE_STATUS_ERROR";
      const refunded = parseAmount(current.refundedAmount) ?? 0;
      if (refunded + request.amountCents > parseAmount(current.totalAmount)!) return "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL";
      this.db
        .prepare("INSERT INTO refunds (trade_no, out_request_no, amount_cents, refunded_at) VALUES (?, ?, ?, ?)")
        .run(current.tradeNo, request.outRequestNo, request.amountCents, at.getTime());
      const full = refunded + request.amountCents === parseAmount(current.totalAmount);
      if (full) {
        this.db
          .prepare("UPDATE trades SET status = 'TRADE_CLOSED', closed_at = ? WHERE trade_no = ?")
          .run(at.getTime(), current.tradeNo);
      }
      return {
        trade: this.get(trade.outTradeNo)!,
        fundChange: "Y",
        refund: { outRequestNo: request.outRequestNo, amountCents: request.amountCents, refundedAt: at },
      };
    })();
    if (typeof result !== "string" && result.fundChange === "Y" && result.trade.status === "TRADE_CLOSED") {
      this.onChange(result.trade); // a full refund closes the trade, and Alipay says so
    }
    return result;
  }

  private changed(tradeNo: string): Trade {
    const trade = this.read(`${SELECT} WHERE t.trade_no = ?`, tradeNo)!;
    this.onChange(trade);
    return trade;
  }

  private read(sql: string, ...args: unknown[]): Trade | undefined {
    const row = this.db.prepare(sql).get(...args) as TradeRow | undefined;
    return row ? toTrade(row) : undefined;
  }
}

function toTrade(row: TradeRow): Trade {
  return {
    tradeNo: row.trade_no,
    outTradeNo: row.out_trade_no,
    appId: row.app_id,
    sellerId: row.seller_id,
    subject: row.subject,
    totalAmount: row.total_amount,
    status: row.status,
    notifyUrl: row.notify_url,
    returnUrl: row.return_url,
    createdAt: new Date(row.created_at),
    expiresAt: date(row.expires_at),
    paidAt: date(row.paid_at),
    closedAt: date(row.closed_at),
    refundedAmount: row.refunded_cents === 0 ? "0.00" : formatAmount(row.refunded_cents),
  };
}

function newTradeNo(at: Date): string {
  const day = at.toISOString().slice(0, 10).replaceAll("-", "");
  return `${day}22001${String(randomInt(1e9)).padStart(9, "0")}${String(randomInt(1e4)).padStart(4, "0")}`;
}
