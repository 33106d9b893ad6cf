import type Database from "better-sqlite3";

/**
 * The first `limit` rows a statement yields, in its order, read without a LIMIT clause: the
 * statement is stepped and reset once `limit` rows are in. A `LIMIT ?` parameter made every
 * run of the claim's due-row read cost about 9 µs more (measured on this SQLite: 14.6 µs
 * against 6.0 µs for one row, 22 against 14 for four), whatever the value bound, as much as
 * the read itself for a single-job claim; a literal LIMIT would need a statement per value.
 */
export function firstRows<Row>(statement: Database.Statement<unknown[], Row>, args: unknown[], limit: number): Row[] {
  const rows: Row[] = [];
  if (limit <= 0) return rows;
  for (const row of statement.iterate(...args)) {
    rows.push(row);
    if (rows.length >= limit) break;
  }
  return rows;
}
