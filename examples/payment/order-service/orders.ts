import { randomBytes } from "node:crypto";
import Database from "better-sqlite3";

export type OrderStatus = "UNPAID" | "PAID" | "CLOSED";

export interface Order {
  id: string;
  subject: string;
  amountCents: number;
  status: OrderStatus;
  createdAt: number;
  updatedAt: number;
}

export interface ReceivedOutcome {
  eventId: string;
  orderId: string;
  outcome: "paid" | "closed";
  /** What it did to the order; "refund: …" when the money must go back. */
  effect: string;
  deliveries: number;
  receivedAt: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS orders (
  id           TEXT PRIMARY KEY,
  subject      TEXT NOT NULL,
  amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
  status       TEXT NOT NULL CHECK (status IN ('UNPAID', 'PAID', 'CLOSED')),
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);
-- The timeout scan's walk: unpaid orders, oldest first, by (created_at, id).
CREATE INDEX IF NOT EXISTS orders_by_status_created ON orders (status, created_at, id);
-- Payment outcomes as received, one row per eventId however often it is delivered.
CREATE TABLE IF NOT EXISTS payment_outcomes (
  event_id    TEXT PRIMARY KEY,
  order_id    TEXT NOT NULL,
  outcome     TEXT NOT NULL,
  effect      TEXT NOT NULL,
  deliveries  INTEGER NOT NULL DEFAULT 1,
  received_at INTEGER NOT NULL
);
`;

/** Where a walk over orders by (createdAt, id) stands. */
export interface OrderKey {
  createdAt: number;
  id: string;
}

interface OrderRow {
  id: string;
  subject: string;
  amount_cents: number;
  status: OrderStatus;
  created_at: number;
  updated_at: number;
}

const toOrder = (row: OrderRow): Order => ({
  id: row.id,
  subject: row.subject,
  amountCents: row.amount_cents,
  status: row.status,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/** The order service's own database. An order leaves UNPAID once: to PAID or to CLOSED. */
export class OrderBook {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    this.db.exec(SCHEMA);
  }

  static newId(): string {
    return `O${randomBytes(4).toString("hex")}`;
  }

  insert(order: { id: string; subject: string; amountCents: number }, now: number): Order {
    this.db
      .prepare(
        "INSERT INTO orders (id, subject, amount_cents, status, created_at, updated_at) VALUES (?, ?, ?, 'UNPAID', ?, ?)",
      )
      .run(order.id, order.subject, order.amountCents, now, now);
    return this.get(order.id)!;
  }

  get(id: string): Order | null {
    const row = this.db.prepare("SELECT * FROM orders WHERE id = ?").get(id) as OrderRow | undefined;
    return row ? toOrder(row) : null;
  }

  /**
   * One page of the orders still UNPAID that were created at or before `createdBefore`, oldest
   * first, after the keyset `after` (null: from the start). An index walk, whatever the table's size.
   */
  unpaidPage(createdBefore: number, after: OrderKey | null, limit: number): Order[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM orders WHERE status = 'UNPAID' AND created_at <= ? AND (created_at, id) > (?, ?)
         ORDER BY created_at, id LIMIT ?`,
      )
      .all(createdBefore, after?.createdAt ?? -1, after?.id ?? "", limit) as OrderRow[];
    return rows.map(toOrder);
  }

  /** UNPAID → CLOSED (its payment side agreed, or a person closed it); false if it was paid (or closed) meanwhile. */
  closeIfUnpaid(id: string, now: number): boolean {
    return (
      this.db
        .prepare("UPDATE orders SET status = 'CLOSED', updated_at = ? WHERE id = ? AND status = 'UNPAID'")
        .run(now, id).changes === 1
    );
  }

  /**
   * Applies a payment outcome once per eventId, in one transaction with what it does to the
   * order. A repeated delivery only counts itself. Returns the outcome as recorded.
   */
  applyOutcome(
    outcome: { eventId: string; orderId: string; outcome: "paid" | "closed" },
    now: number,
  ): ReceivedOutcome {
    return this.db.transaction(() => {
      const seen = this.db
        .prepare("UPDATE payment_outcomes SET deliveries = deliveries + 1 WHERE event_id = ?")
        .run(outcome.eventId);
      if (seen.changes === 0) {
        const effect = this.effectOf(outcome, now);
        this.db
          .prepare(
            "INSERT INTO payment_outcomes (event_id, order_id, outcome, effect, received_at) VALUES (?, ?, ?, ?, ?)",
          )
          .run(outcome.eventId, outcome.orderId, outcome.outcome, effect, now);
      }
      return this.outcomesFor(outcome.orderId).find((o) => o.eventId === outcome.eventId)!;
    })();
  }

  outcomesFor(orderId: string): ReceivedOutcome[] {
    return this.db
      .prepare(
        `SELECT event_id AS eventId, order_id AS orderId, outcome, effect, deliveries, received_at AS receivedAt
         FROM payment_outcomes WHERE order_id = ? ORDER BY received_at`,
      )
      .all(orderId) as ReceivedOutcome[];
  }

  close(): void {
    this.db.close();
  }

  private effectOf(outcome: { orderId: string; outcome: "paid" | "closed" }, now: number): string {
    const order = this.get(outcome.orderId);
    if (!order) return "ALERT: unknown order";
    if (outcome.outcome === "closed") {
      // The trade is known closed: nobody can pay this order any more, so it closes now.
      return this.closeIfUnpaid(order.id, now)
        ? "order closed: paid nothing in the payment window"
        : `none: order ${order.status}`;
    }
    const paid = this.db
      .prepare("UPDATE orders SET status = 'PAID', updated_at = ? WHERE id = ? AND status = 'UNPAID'")
      .run(now, order.id);
    if (paid.changes === 1) return "order paid";
    // Closed anyway (a person closed it while the shopper was paying): the money goes back.
    return `refund: paid while the order was ${order.status}`;
  }
}
