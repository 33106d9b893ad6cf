import { randomBytes } from "node:crypto";
import Database from "better-sqlite3";

export type PaymentStatus = "UNPAID" | "PAID" | "CLOSED";

export interface Payment {
  outTradeNo: string;
  orderId: string;
  subject: string;
  amountCents: number;
  status: PaymentStatus;
  /** Alipay's trade number, once known. */
  tradeNo: string | null;
  /** After this business instant Alipay takes no money for the trade (sent as time_expire). */
  expiresAt: number;
  createdAt: number;
  updatedAt: number;
}

/** What the payment service hands on to the order service: exactly one per payment. */
export interface PaymentOutcome {
  eventId: string;
  outTradeNo: string;
  orderId: string;
  outcome: "paid" | "closed";
  amountCents: number;
  tradeNo: string | null;
  at: number;
}

export interface OutboxRow {
  id: number;
  outTradeNo: string;
  body: PaymentOutcome;
  createdAt: number;
  deliveredAt: number | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS payments (
  out_trade_no TEXT PRIMARY KEY,
  order_id     TEXT NOT NULL UNIQUE,
  subject      TEXT NOT NULL,
  amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
  status       TEXT NOT NULL CHECK (status IN ('UNPAID', 'PAID', 'CLOSED')),
  trade_no     TEXT,
  expires_at   INTEGER NOT NULL,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);
-- The transactional outbox: a row is written in the same transaction as the status change it
-- announces. UNIQUE(out_trade_no): a payment hands on one outcome, ever.
CREATE TABLE IF NOT EXISTS outbox (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  out_trade_no TEXT NOT NULL UNIQUE REFERENCES payments (out_trade_no),
  body         TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  delivered_at INTEGER
);
-- Every notify received, accepted or not: the audit trail of what the gateway told us.
CREATE TABLE IF NOT EXISTS notifies (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  out_trade_no TEXT,
  notify_id    TEXT,
  trade_status TEXT,
  verdict      TEXT NOT NULL,
  received_at  INTEGER NOT NULL
);
`;

interface PaymentRow {
  out_trade_no: string;
  order_id: string;
  subject: string;
  amount_cents: number;
  status: PaymentStatus;
  trade_no: string | null;
  expires_at: number;
  created_at: number;
  updated_at: number;
}

interface OutboxDbRow {
  id: number;
  out_trade_no: string;
  body: string;
  created_at: number;
  delivered_at: number | null;
}

const toOutboxRow = (row: OutboxDbRow): OutboxRow => ({
  id: row.id,
  outTradeNo: row.out_trade_no,
  body: JSON.parse(row.body),
  createdAt: row.created_at,
  deliveredAt: row.delivered_at,
});

const toPayment = (row: PaymentRow): Payment => ({
  outTradeNo: row.out_trade_no,
  orderId: row.order_id,
  subject: row.subject,
  amountCents: row.amount_cents,
  status: row.status,
  tradeNo: row.trade_no,
  expiresAt: row.expires_at,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/**
 * The payment service's own database (one SQLite file). The one rule that matters: a payment
 * leaves UNPAID once, and the outcome that tells the order service about it is written in the
 * same transaction — so there is never a PAID payment whose order will not hear of it, nor an
 * outcome for a payment that did not change.
 */
export class PaymentBook {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    this.db.exec(SCHEMA);
  }

  /** The order's payment, created on first call: one payment (one out_trade_no) per order. */
  openFor(order: { orderId: string; subject: string; amountCents: number }, now: number, expiresAt: number) {
    const outTradeNo = `P${randomBytes(6).toString("hex")}`;
    const inserted = this.db
      .prepare(
        `INSERT INTO payments (out_trade_no, order_id, subject, amount_cents, status, expires_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'UNPAID', ?, ?, ?) ON CONFLICT (order_id) DO NOTHING`,
      )
      .run(outTradeNo, order.orderId, order.subject, order.amountCents, expiresAt, now, now);
    const row = this.db.prepare("SELECT * FROM payments WHERE order_id = ?").get(order.orderId) as PaymentRow;
    return { payment: toPayment(row), created: inserted.changes === 1 };
  }

  get(outTradeNo: string): Payment | null {
    const row = this.db.prepare("SELECT * FROM payments WHERE out_trade_no = ?").get(outTradeNo) as
      | PaymentRow
      | undefined;
    return row ? toPayment(row) : null;
  }

  /**
   * UNPAID → PAID or CLOSED, with its outcome in the outbox, in one transaction. False (and
   * nothing written) when the payment had already left UNPAID: a second notify, a probe that
   * lost the race, a redelivered outcome job.
   */
  finish(outTradeNo: string, to: "PAID" | "CLOSED", tradeNo: string | null, now: number): boolean {
    return this.db.transaction(() => {
      const changed = this.db
        .prepare(
          `UPDATE payments SET status = ?, trade_no = coalesce(?, trade_no), updated_at = ?
           WHERE out_trade_no = ? AND status = 'UNPAID'`,
        )
        .run(to, tradeNo, now, outTradeNo);
      if (changed.changes === 0) return false;
      const payment = this.get(outTradeNo)!;
      const outcome: PaymentOutcome = {
        eventId: `payment-outcome:${outTradeNo}`,
        outTradeNo,
        orderId: payment.orderId,
        outcome: to === "PAID" ? "paid" : "closed",
        amountCents: payment.amountCents,
        tradeNo: payment.tradeNo,
        at: now,
      };
      this.db
        .prepare("INSERT INTO outbox (out_trade_no, body, created_at) VALUES (?, ?, ?)")
        .run(outTradeNo, JSON.stringify(outcome), now);
      return true;
    })();
  }

  undelivered(outTradeNo?: string): OutboxRow[] {
    const rows = (
      outTradeNo === undefined
        ? this.db.prepare("SELECT * FROM outbox WHERE delivered_at IS NULL ORDER BY id").all()
        : this.db.prepare("SELECT * FROM outbox WHERE delivered_at IS NULL AND out_trade_no = ?").all(outTradeNo)
    ) as OutboxDbRow[];
    return rows.map(toOutboxRow);
  }

  outboxRow(id: number): OutboxRow | null {
    const row = this.db.prepare("SELECT * FROM outbox WHERE id = ?").get(id) as OutboxDbRow | undefined;
    return row ? toOutboxRow(row) : null;
  }

  outboxFor(outTradeNo: string): OutboxRow[] {
    const rows = this.db.prepare("SELECT * FROM outbox WHERE out_trade_no = ?").all(outTradeNo) as OutboxDbRow[];
    return rows.map(toOutboxRow);
  }

  markDelivered(id: number, now: number): void {
    this.db.prepare("UPDATE outbox SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL").run(now, id);
  }

  recordNotify(notify: { outTradeNo?: string; notifyId?: string; tradeStatus?: string; verdict: string }, now: number) {
    this.db
      .prepare(
        "INSERT INTO notifies (out_trade_no, notify_id, trade_status, verdict, received_at) VALUES (?, ?, ?, ?, ?)",
      )
      .run(notify.outTradeNo ?? null, notify.notifyId ?? null, notify.tradeStatus ?? null, notify.verdict, now);
  }

  notifiesFor(outTradeNo: string): { notifyId: string; tradeStatus: string; verdict: string; receivedAt: number }[] {
    return this.db
      .prepare(
        `SELECT notify_id AS notifyId, trade_status AS tradeStatus, verdict, received_at AS receivedAt
         FROM notifies WHERE out_trade_no = ? ORDER BY id`,
      )
      .all(outTradeNo) as { notifyId: string; tradeStatus: string; verdict: string; receivedAt: number }[];
  }

  close(): void {
    this.db.close();
  }
}
