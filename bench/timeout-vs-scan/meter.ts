import { readFile } from "node:fs/promises";
import type pg from "pg";

/**
 * What a run costs the store, read from /proc. For SQLite the store is this process (the
 * engine, SQLite and the workload share it); for PostgreSQL it is the server backends serving
 * this process's connections, found by their application_name in pg_stat_activity and read
 * through /proc/<pid> (the server runs on this host; reading another user's /proc/<pid>/io
 * needs root or the same user).
 */
export interface Usage {
  cpuSeconds: number;
  writeBytes: number;
  /** Peak private memory (RssAnon) of the processes measured, summed. */
  rssPeakBytes: number;
}

interface ProcReading {
  cpuSeconds: number;
  writeBytes: number;
  rssAnonBytes: number;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

async function readProc(pid: number | "self"): Promise<ProcReading | null> {
  try {
    const [stat, io, status] = await Promise.all([
      readFile(`/proc/${pid}/stat`, "utf8"),
      readFile(`/proc/${pid}/io`, "utf8"),
      readFile(`/proc/${pid}/status`, "utf8"),
    ]);
    // Fields after the command name (which may hold spaces): utime and stime are 14th and 15th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    const writeBytes = Number(/^write_bytes:\s*(\d+)/m.exec(io)?.[1] ?? 0);
    const rssAnonKb = Number(/^RssAnon:\s*(\d+)/m.exec(status)?.[1] ?? 0);
    return { cpuSeconds: ticks / CLOCK_TICKS, writeBytes, rssAnonBytes: rssAnonKb * 1024 };
  } catch {
    return null; // the process ended, or /proc is not readable
  }
}

export interface Meter {
  /** Samples now (the peak memory needs regular samples; cumulative counters do not). */
  sample(): Promise<void>;
  /** Usage since the meter started. */
  usage(): Promise<Usage>;
}

/** This process. */
export async function processMeter(): Promise<Meter> {
  const start = await readProc("self");
  let peak = 0;
  const sample = async () => {
    peak = Math.max(peak, process.memoryUsage.rss());
  };
  return {
    sample,
    usage: async () => {
      await sample();
      const now = await readProc("self");
      return {
        cpuSeconds: (now?.cpuSeconds ?? 0) - (start?.cpuSeconds ?? 0),
        writeBytes: (now?.writeBytes ?? 0) - (start?.writeBytes ?? 0),
        rssPeakBytes: peak,
      };
    },
  };
}

/**
 * The PostgreSQL backends whose application_name is `appName`. A backend seen at start counts
 * from its reading then; one that appears later counts from zero (its whole life is in the
 * run); one that ends between samples keeps its last reading.
 */
export async function backendMeter(pool: pg.Pool, appName: string): Promise<Meter> {
  const baseline = new Map<number, ProcReading>();
  const latest = new Map<number, ProcReading>();
  let peak = 0;
  const pids = async () =>
    (
      await pool.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1", [appName])
    ).rows.map((r) => r.pid);
  const sample = async () => {
    let rss = 0;
    for (const pid of await pids()) {
      const reading = await readProc(pid);
      if (!reading) continue;
      latest.set(pid, reading);
      rss += reading.rssAnonBytes;
    }
    peak = Math.max(peak, rss);
  };
  for (const pid of await pids()) {
    const reading = await readProc(pid);
    if (reading) baseline.set(pid, reading);
  }
  await sample();
  return {
    sample,
    usage: async () => {
      await sample();
      let cpuSeconds = 0;
      let writeBytes = 0;
      for (const [pid, reading] of latest) {
        const from = baseline.get(pid);
        cpuSeconds += reading.cpuSeconds - (from?.cpuSeconds ?? 0);
        writeBytes += reading.writeBytes - (from?.writeBytes ?? 0);
      }
      return { cpuSeconds, writeBytes, rssPeakBytes: peak };
    },
  };
}

/** Server-wide WAL bytes so far (pg_stat_wal, PostgreSQL 14+): other clients' writes count too. */
export async function walBytes(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ wal_bytes: string }>("SELECT wal_bytes FROM pg_stat_wal");
  return Number(rows[0]?.wal_bytes ?? 0);
}

export interface TupleCounts {
  /** Rows read: sequential-scan tuples plus tuples fetched through an index. */
  read: number;
  inserted: number;
  updated: number;
  deleted: number;
}

/** Summed pg_stat_user_tables of every table in `schema` (flushed by each backend when it goes idle or ends). */
export async function tupleCounts(pool: pg.Pool, schema: string): Promise<TupleCounts> {
  const { rows } = await pool.query<Record<keyof TupleCounts, string>>(
    `SELECT coalesce(sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)), 0) AS read,
            coalesce(sum(n_tup_ins), 0) AS inserted, coalesce(sum(n_tup_upd), 0) AS updated,
            coalesce(sum(n_tup_del), 0) AS deleted
       FROM pg_stat_user_tables WHERE schemaname = $1`,
    [schema],
  );
  const r = rows[0]!;
  return { read: Number(r.read), inserted: Number(r.inserted), updated: Number(r.updated), deleted: Number(r.deleted) };
}
