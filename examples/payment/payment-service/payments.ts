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
-- Orders closed before any payment was made for them: a later "pay" is refused.
CREATE TABLE IF NOT EXISTS sealed_orders (
  order_id  TEXT PRIMARY KEY,
  reason    TEXT NOT NULL,
  sealed_at INTEGER NOT NULL
);
-- Orders a person closed while their payment was open: money that still arrives goes back.
CREATE TABLE IF NOT EXISTS cancelled_payments (
  out_trade_no TEXT PRIMARY KEY REFERENCES payments (out_trade_no),
  cancelled_at INTEGER NOT NULL
);
-- Money to give back. out_request_no is Alipay's idempotency key for the refund: asked twice,
-- Alipay refunds once. PENDING → DONE, or FAILED once its job used up its attempts (a person
-- redrives it).
CREATE TABLE IF NOT EXISTS refunds (
  out_request_no TEXT PRIMARY KEY,
  out_trade_no   TEXT NOT NULL REFERENCES payments (out_trade_no),
  amount_cents   INTEGER NOT NULL CHECK (amount_cents > 0),
  reason         TEXT NOT NULL,
  status         TEXT NOT NULL CHECK (status IN ('PENDING', 'DONE', 'FAILED')),
  created_at     INTEGER NOT NULL,
  done_at        INTEGER
);
-- What a person must know about: money for a closed order, a refund that keeps failing, what
-- the nightly reconciliation could not repair.
CREATE TABLE IF NOT EXISTS alerts (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  out_trade_no TEXT,
  kind         TEXT NOT NULL,
  text         TEXT NOT NULL,
  at           INTEGER NOT NULL
);
-- What each reconciliation run found, and what it did about it (null: nothing; alerted).
CREATE TABLE IF NOT EXISTS reconciliation_findings (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id       TEXT NOT NULL,
  out_trade_no TEXT NOT NULL,
  finding      TEXT NOT NULL,
  repair       TEXT,
  at           INTEGER NOT NULL
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

export interface RefundRow {
  outRequestNo: string;
  outTradeNo: string;
  amountCents: number;
  reason: string;
  status: "PENDING" | "DONE" | "FAILED";
  createdAt: number;
  doneAt: number | null;
}

export interface AlertRow {
  id: number;
  outTradeNo: string | null;
  kind: string;
  text: string;
  at: number;
}

const REFUND_SELECT = `SELECT out_request_no AS outRequestNo, out_trade_no AS outTradeNo, amount_cents AS amountCents,
  reason, status, created_at AS createdAt, done_at AS doneAt FROM refunds`;

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

  /**
   * The order's payment, created on first call: one payment (one out_trade_no) per order. None
   * (`sealed`) for an order closed before it had one.
   */
  openFor(
    order: { orderId: string; subject: string; amountCents: number },
    now: number,
    expiresAt: number,
  ): { payment: Payment; created: boolean } | { sealed: string } {
    return this.db.transaction(() => {
      const sealed = this.sealedReason(order.orderId);
      if (sealed !== null) return { sealed };
      const outTradeNo = `P${randomBytes(6).toString("hex")}`;
      const inserted = this.db
        .prepare(
          `INSERT INTO payments (out_trade_no, order_id, subject, amount_cents, status, expires_at, created_at, updated_at)
           VALUES (?, ?, ?, ?, 'UNPAID', ?, ?, ?) ON CONFLICT (order_id) DO NOTHING`,
        )
        .run(outTradeNo, order.orderId, order.subject, order.amountCents, expiresAt, now, now);
      return { payment: this.forOrder(order.orderId)!, created: inserted.changes === 1 };
    })();
  }

  forOrder(orderId: string): Payment | null {
    const row = this.db.prepare("SELECT * FROM payments WHERE order_id = ?").get(orderId) as PaymentRow | undefined;
    return row ? toPayment(row) : null;
  }

  /**
   * The order side closes an order that has no payment: from now on none can be made for it.
   * Null if it did have one (then that payment decides). In one transaction with openFor's
   * check, so "pay" and "close" cannot both win.
   */
  sealIfNoPayment(orderId: string, reason: string, now: number): Payment | null {
    return this.db.transaction(() => {
      const payment = this.forOrder(orderId);
      if (payment) return payment;
      this.db
        .prepare("INSERT INTO sealed_orders (order_id, reason, sealed_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
        .run(orderId, reason, now);
      return null;
    })();
  }

  sealedReason(orderId: string): string | null {
    const row = this.db.prepare("SELECT reason FROM sealed_orders WHERE order_id = ?").get(orderId) as
      | { reason: string }
      | undefined;
    return row?.reason ?? null;
  }

  markCancelled(outTradeNo: string, now: number): void {
    this.db
      .prepare("INSERT INTO cancelled_payments (out_trade_no, cancelled_at) VALUES (?, ?) ON CONFLICT DO NOTHING")
      .run(outTradeNo, now);
  }

  isCancelled(outTradeNo: string): boolean {
    return this.db.prepare("SELECT 1 FROM cancelled_payments WHERE out_trade_no = ?").get(outTradeNo) !== undefined;
  }

  /** Payments created in [from, to), in out_trade_no order after `cursor`: the reconciliation's pages. */
  page(from: number, to: number, cursor: string | null, limit: number): Payment[] {
    return (
      this.db
        .prepare(
          `SELECT * FROM payments WHERE created_at >= ? AND created_at < ? AND out_trade_no > ?
           ORDER BY out_trade_no LIMIT ?`,
        )
        .all(from, to, cursor ?? "", limit) as PaymentRow[]
    ).map(toPayment);
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

  /**
   * Money for this payment goes back: one full refund, named by its out_request_no (so asking
   * twice refunds once, here and at Alipay), with an alert for a person. Returns the refund,
   * created or as it was.
   */
  requestRefund(outTradeNo: string, reason: string, now: number): RefundRow {
    return this.db.transaction(() => {
      const payment = this.get(outTradeNo)!;
      const outRequestNo = `${outTradeNo}-R1`;
      const created = this.db
        .prepare(
          `INSERT INTO refunds (out_request_no, out_trade_no, amount_cents, reason, status, created_at)
           VALUES (?, ?, ?, ?, 'PENDING', ?) ON CONFLICT DO NOTHING`,
        )
        .run(outRequestNo, outTradeNo, payment.amountCents, reason, now);
      if (created.changes === 1)
        this.alert(outTradeNo, "refund", `money for a closed order (${reason}): refunding`, now);
      return this.refundsFor(outTradeNo)[0]!;
    })();
  }

  refundsFor(outTradeNo: string): RefundRow[] {
    return this.db
      .prepare(`${REFUND_SELECT} WHERE out_trade_no = ? ORDER BY created_at`)
      .all(outTradeNo) as RefundRow[];
  }

  refund(outRequestNo: string): RefundRow | null {
    return (this.db.prepare(`${REFUND_SELECT} WHERE out_request_no = ?`).get(outRequestNo) as RefundRow) ?? null;
  }

  refundsIn(status: RefundRow["status"]): RefundRow[] {
    return this.db.prepare(`${REFUND_SELECT} WHERE status = ? ORDER BY created_at`).all(status) as RefundRow[];
  }

  setRefundStatus(outRequestNo: string, status: RefundRow["status"], now: number): void {
    this.db
      .prepare(
        "UPDATE refunds SET status = ?, done_at = CASE WHEN ? = 'DONE' THEN ? ELSE done_at END WHERE out_request_no = ? AND status != 'DONE'",
      )
      .run(status, status, now, outRequestNo);
  }

  recordFinding(runId: string, found: { outTradeNo: string; finding: string; repair: string | null }, now: number) {
    this.db
      .prepare("INSERT INTO reconciliation_findings (run_id, out_trade_no, finding, repair, at) VALUES (?, ?, ?, ?, ?)")
      .run(runId, found.outTradeNo, found.finding, found.repair, now);
  }

  findings(runId?: string): { runId: string; outTradeNo: string; finding: string; repair: string | null }[] {
    const sql = `SELECT run_id AS runId, out_trade_no AS outTradeNo, finding, repair FROM reconciliation_findings`;
    return (
      runId === undefined
        ? this.db.prepare(`${sql} ORDER BY id`).all()
        : this.db.prepare(`${sql} WHERE run_id = ? ORDER BY id`).all(runId)
    ) as { runId: string; outTradeNo: string; finding: string; repair: string | null }[];
  }

  alert(outTradeNo: string | null, kind: string, text: string, now: number): void {
    this.db
      .prepare("INSERT INTO alerts (out_trade_no, kind, text, at) VALUES (?, ?, ?, ?)")
      .run(outTradeNo, kind, text, now);
  }

  alerts(outTradeNo?: string): AlertRow[] {
    return (
      outTradeNo === undefined
        ? this.db.prepare("SELECT id, out_trade_no AS outTradeNo, kind, text, at FROM alerts ORDER BY id").all()
        : this.db
            .prepare(
              "SELECT id, out_trade_no AS outTradeNo, kind, text, at FROM alerts WHERE out_trade_no = ? ORDER BY id",
            )
            .all(outTradeNo)
    ) as AlertRow[];
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

  /** The order side took the outcome; if it answered that the order was closed anyway, the refund is due with it. */
  markDelivered(id: number, now: number, refundReason?: string): void {
    this.db.transaction(() => {
      this.db.prepare("UPDATE outbox SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL").run(now, id);
      if (refundReason !== undefined) this.requestRefund(this.outboxRow(id)!.outTradeNo, refundReason, now);
    })();
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
