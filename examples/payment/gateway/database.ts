import Database from "better-sqlite3";

/**
 * The sandbox's own SQLite file: trades, their refunds, the scripts and the notify series. The
 * real gateway does not forget a trade (or a notify it still owes) when it restarts, so neither
 * does the sandbox; without a data folder it runs in memory.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS trades (
  trade_no     TEXT PRIMARY KEY,
  out_trade_no TEXT NOT NULL,
  app_id       TEXT NOT NULL,
  seller_id    TEXT NOT NULL,
  subject      TEXT NOT NULL,
  total_amount TEXT NOT NULL,
  status       TEXT NOT NULL,
  notify_url   TEXT,
  return_url   TEXT,
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER,
  paid_at      INTEGER,
  closed_at    INTEGER,
  UNIQUE (app_id, out_trade_no)
);
CREATE TABLE IF NOT EXISTS refunds (
  trade_no       TEXT NOT NULL REFERENCES trades (trade_no),
  out_request_no TEXT NOT NULL,
  amount_cents   INTEGER NOT NULL,
  refunded_at    INTEGER NOT NULL,
  PRIMARY KEY (trade_no, out_request_no)
);
CREATE TABLE IF NOT EXISTS scripts (
  out_trade_no TEXT PRIMARY KEY,
  script       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notify_series (
  notify_id    TEXT PRIMARY KEY,
  out_trade_no TEXT NOT NULL,
  notify_url   TEXT NOT NULL,
  form         TEXT NOT NULL,
  next_attempt INTEGER NOT NULL,
  due_at       INTEGER,
  done         INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS notify_attempts (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  out_trade_no TEXT NOT NULL,
  notify_id    TEXT NOT NULL,
  trade_status TEXT NOT NULL,
  attempt      INTEGER NOT NULL,
  at           INTEGER NOT NULL,
  outcome      TEXT NOT NULL
);
`;

export function openSandboxDatabase(path: string): Database.Database {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.exec(SCHEMA);
  return db;
}
