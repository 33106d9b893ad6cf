import Database from "better-sqlite3";
import type pg from "pg";

/**
 * The shop's own orders table, beside the store: what both ways of timing out read and write.
 * Instants are epoch milliseconds of this process's clock. The index on (status, created_at)
 * is what the scan's query walks: unpaid orders, oldest first.
 */
export interface OrderRow {
  id: number;
  createdAt: number;
}

export interface OrdersTable {
  insert(rows: OrderRow[]): Promise<void>;
  /** Marks unpaid orders paid; how many were still unpaid. */
  pay(ids: number[]): Promise<number>;
  /** Closes one order if still unpaid (the delay queue's handler); whether it did. */
  closeOne(id: number, at: number): Promise<boolean>;
  /** One keyset page of unpaid orders created at or before `cutoff`, after `after` in (created_at, id) order. */
  unpaidPage(cutoff: number, after: OrderRow | null, limit: number): Promise<OrderRow[]>;
  /** Closes those of `ids` still unpaid, returning the ones it closed. */
  closeMany(ids: number[], at: number): Promise<OrderRow[]>;
  /** The query plan of the scan's page query, to show it walks the index. */
  pagePlan(): Promise<string>;
  close(): Promise<void>;
}

const CREATE = [
  "CREATE TABLE orders (id BIGINT PRIMARY KEY, status TEXT NOT NULL, created_at BIGINT NOT NULL, closed_at BIGINT)",
  "CREATE INDEX orders_status_created ON orders (status, created_at, id)",
];

export function openSqliteOrders(path: string): OrdersTable {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  for (const sql of CREATE) db.exec(sql);
  const insert = db.prepare("INSERT INTO orders (id, status, created_at) VALUES (?, 'unpaid', ?)");
  const pay = db.prepare("UPDATE orders SET status = 'paid' WHERE id = ? AND status = 'unpaid'");
  const close = db.prepare("UPDATE orders SET status = 'closed', closed_at = ? WHERE id = ? AND status = 'unpaid'");
  const closeReturning = db.prepare(
    "UPDATE orders SET status = 'closed', closed_at = ? WHERE id = ? AND status = 'unpaid' RETURNING id, created_at AS createdAt",
  );
  const firstPage = db.prepare(
    "SELECT id, created_at AS createdAt FROM orders WHERE status = 'unpaid' AND created_at <= ? ORDER BY created_at, id LIMIT ?",
  );
  const nextPage = db.prepare(
    `SELECT id, created_at AS createdAt FROM orders WHERE status = 'unpaid' AND created_at <= ?
       AND (created_at > ? OR (created_at = ? AND id > ?)) ORDER BY created_at, id LIMIT ?`,
  );
  const insertAll = db.transaction((rows: OrderRow[]) => {
    for (const row of rows) insert.run(row.id, row.createdAt);
  });
  const payAll = db.transaction((ids: number[]) => ids.reduce((n, id) => n + pay.run(id).changes, 0));
  const closeAll = db.transaction((ids: number[], at: number) =>
    ids.flatMap((id) => (closeReturning.get(at, id) as OrderRow | undefined) ?? []),
  );
  return {
    insert: async (rows) => insertAll(rows),
    pay: async (ids) => payAll(ids),
    closeOne: async (id, at) => close.run(at, id).changes === 1,
    unpaidPage: async (cutoff, after, limit) =>
      (after
        ? nextPage.all(cutoff, after.createdAt, after.createdAt, after.id, limit)
        : firstPage.all(cutoff, limit)) as OrderRow[],
    closeMany: async (ids, at) => closeAll(ids, at),
    pagePlan: async () =>
      (
        db.prepare(`EXPLAIN QUERY PLAN ${nextPage.source}`).all(0, 0, 0, 0, 500) as {
          detail: string;
        }[]
      )
        .map((r) => r.detail)
        .join("; "),
    close: async () => {
      db.close();
    },
  };
}

/** The orders table in `schema` of the shared database, created here and dropped by the caller. */
export async function openPostgresOrders(pool: pg.Pool, schema: string): Promise<OrdersTable> {
  await pool.query(`CREATE SCHEMA "${schema}"`);
  for (const sql of CREATE) await pool.query(sql.replace(/\borders\b/, `"${schema}".orders`));
  const t = `"${schema}".orders`;
  const pageSql = `SELECT id, created_at FROM ${t} WHERE status = 'unpaid' AND created_at <= $1
     AND (created_at, id) > ($2, $3) ORDER BY created_at, id LIMIT $4`;
  const toRow = (r: { id: string; created_at: string }): OrderRow => ({
    id: Number(r.id),
    createdAt: Number(r.created_at),
  });
  return {
    insert: async (rows) => {
      await pool.query(
        `INSERT INTO ${t} (id, status, created_at) SELECT i, 'unpaid', c FROM unnest($1::bigint[], $2::bigint[]) AS u(i, c)`,
        [rows.map((r) => r.id), rows.map((r) => r.createdAt)],
      );
    },
    pay: async (ids) =>
      (await pool.query(`UPDATE ${t} SET status = 'paid' WHERE id = ANY($1::bigint[]) AND status = 'unpaid'`, [ids]))
        .rowCount ?? 0,
    closeOne: async (id, at) =>
      (
        await pool.query(`UPDATE ${t} SET status = 'closed', closed_at = $1 WHERE id = $2 AND status = 'unpaid'`, [
          at,
          id,
        ])
      ).rowCount === 1,
    unpaidPage: async (cutoff, after, limit) =>
      (await pool.query(pageSql, [cutoff, after?.createdAt ?? -1, after?.id ?? -1, limit])).rows.map(toRow),
    closeMany: async (ids, at) =>
      (
        await pool.query(
          `UPDATE ${t} SET status = 'closed', closed_at = $1 WHERE id = ANY($2::bigint[]) AND status = 'unpaid' RETURNING id, created_at`,
          [at, ids],
        )
      ).rows.map(toRow),
    pagePlan: async () =>
      (
        await pool.query(
          `EXPLAIN ${pageSql.replace("$1", "0").replace("$2", "0").replace("$3", "0").replace("$4", "500")}`,
        )
      ).rows
        .map((r: Record<string, string>) => Object.values(r)[0]!.trim())
        .join("; "),
    close: async () => {},
  };
}
