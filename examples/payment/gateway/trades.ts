import { randomInt } from "node:crypto";
import type { TradeScript } from "./script.js";

export type TradeStatus = "WAIT_BUYER_PAY" | "TRADE_CLOSED" | "TRADE_SUCCESS" | "TRADE_FINISHED";

export interface Trade {
  tradeNo: string;
  outTradeNo: string;
  appId: string;
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
}

/** What the sandbox can say about a trade it was asked to change. */
export type Refusal = "ACQ.TRADE_NOT_EXIST" | "ACQ.TRADE_STATUS_ERROR" | "ACQ.TRADE_HAS_CLOSE";

/**
 * The gateway's trades, in memory (it is a sandbox). The rules are Alipay's:
 * - a trade exists only once the shopper opens the cashier page, so the merchant's query
 *   answers ACQ.TRADE_NOT_EXIST until then;
 * - WAIT_BUYER_PAY → TRADE_SUCCESS | TRADE_FINISHED (paid) or → TRADE_CLOSED (closed by the
 *   merchant, or expired); a closed trade is final;
 * - one out_trade_no is one trade: opening the page again shows the same trade.
 */
export class TradeBook {
  private readonly trades = new Map<string, Trade>();
  private readonly scripts = new Map<string, TradeScript>();
  private readonly queries = new Map<string, number>();

  constructor(private readonly onChange: (trade: Trade) => void) {}

  get(outTradeNo: string): Trade | undefined {
    return this.trades.get(outTradeNo);
  }

  all(): Trade[] {
    return [...this.trades.values()];
  }

  script(outTradeNo: string): TradeScript {
    return this.scripts.get(outTradeNo) ?? {};
  }

  setScript(outTradeNo: string, script: TradeScript): void {
    this.scripts.set(outTradeNo, { ...this.script(outTradeNo), ...script });
  }

  /** Takes one from a per-trade counter (systemErrors, closeErrors, unavailable); true if there was one. */
  consume(outTradeNo: string, counter: "systemErrors" | "closeErrors" | "unavailable"): boolean {
    const script = this.scripts.get(outTradeNo);
    if (!script?.[counter]) return false;
    script[counter] -= 1;
    return true;
  }

  /** Counts a merchant query of an open trade; returns which one it is (1 for the first). */
  countQuery(outTradeNo: string): number {
    const count = (this.queries.get(outTradeNo) ?? 0) + 1;
    this.queries.set(outTradeNo, count);
    return count;
  }

  open(request: Omit<Trade, "tradeNo" | "status" | "paidAt" | "closedAt">): Trade {
    const existing = this.trades.get(request.outTradeNo);
    if (existing) return existing;
    const trade: Trade = {
      ...request,
      tradeNo: newTradeNo(request.createdAt),
      status: "WAIT_BUYER_PAY",
      paidAt: null,
      closedAt: null,
    };
    this.trades.set(trade.outTradeNo, trade);
    return trade;
  }

  pay(outTradeNo: string, at: Date): Trade | Refusal {
    const trade = this.trades.get(outTradeNo);
    if (!trade) return "ACQ.TRADE_NOT_EXIST";
    if (trade.status === "TRADE_CLOSED") return "ACQ.TRADE_HAS_CLOSE";
    if (trade.status !== "WAIT_BUYER_PAY") return "ACQ.TRADE_STATUS_ERROR";
    trade.status = this.script(outTradeNo).paidStatus ?? "TRADE_SUCCESS";
    trade.paidAt = at;
    this.onChange(trade);
    return trade;
  }

  close(outTradeNo: string, at: Date): Trade | Refusal {
    const trade = this.trades.get(outTradeNo);
    if (!trade) return "ACQ.TRADE_NOT_EXIST";
    if (trade.status !== "WAIT_BUYER_PAY") return "ACQ.TRADE_STATUS_ERROR";
    trade.status = "TRADE_CLOSED";
    trade.closedAt = at;
    this.onChange(trade);
    return trade;
  }
}

function newTradeNo(at: Date): string {
  const day = at.toISOString().slice(0, 10).replaceAll("-", "");
  return `${day}22001${String(randomInt(1e9)).padStart(9, "0")}${String(randomInt(1e4)).padStart(4, "0")}`;
}
