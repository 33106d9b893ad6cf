import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { PostgresStore } from "../../packages/checkback/src/stores/postgres/postgres-store.js";
import { SqliteStore } from "../../packages/checkback/src/stores/sqlite/sqlite-store.js";
import type { Store } from "../../packages/checkback/src/stores/store.js";
import { note } from "../lib/progress.js";
import { backendMeter, type Meter, processMeter, type TupleCounts, tupleCounts, walBytes } from "./meter.js";
import { type OrderRow, type OrdersTable, openPostgresOrders, openSqliteOrders } from "./orders.js";

/**
 * One way of timing out orders, on one store, in a process of its own. Time is scaled by
 * `speed`: the 30-minute timeout, the 20-second scan period, the arrival window and the payment
 * times all shrink by it. Lateness is reported un-scaled: the part that comes from the timetable
 * (an order waiting for the next scan) is multiplied back by `speed`; the time the engine and
 * the database take (a firing's own lateness, the queries, the updates) is real and is not.
 */
export type Approach = "queue" | "scan";

export interface RunSpec {
  approach: Approach;
  store: "sqlite" | "postgres";
  orders: number;
  speed: number;
  /** Arrival window in un-scaled minutes: orders arrive evenly over it. */
  windowMinutes: number;
  /** Share of orders paid before their timeout. */
  paidShare: number;
  databaseUrl: string;
}

export interface RunResult {
  spec: RunSpec;
  label: string;
  realSeconds: number;
  created: number;
  paid: number;
  closed: number;
  /** Un-scaled lateness of each close, ms: p50, p99, max; and the CDF as (ms, share) points. */
  lateness: { p50: number; p90: number; p99: number; max: number; cdf: [number, number][] };
  /** Orders-table rows the closing read (scan: rows its page queries returned), per closed order. */
  ordersRowsReadPerClose: number;
  /** Queries the closing ran against the orders table (scan: page queries + close updates). */
  closingQueries: number;
  scanTicks: number;
  /** PostgreSQL only: pg_stat_user_tables of the orders table and of the store's tables. */
  ordersTuples: TupleCounts | null;
  storeTuples: TupleCounts | null;
  /** The store's CPU, bytes written and peak private memory (see meter.ts); the Node process beside it. */
  storeCpuSeconds: number;
  storeWriteBytes: number;
  storeRssPeakBytes: number;
  nodeCpuSeconds: number;
  nodeRssPeakBytes: number;
  /** PostgreSQL: server-wide WAL growth during the run (other clients included). */
  walBytes: number | null;
  /** On-disk size of the store (SQLite files, PostgreSQL relations) at the end. */
  storeBytes: number;
  /** How far the producer fell behind its arrival schedule at worst, ms real. */
  producerLagMaxMs: number;
  pagePlan: string;
}

const TIMEOUT_MS = 30 * 60_000;
const SCAN_EVERY_MS = 20_000;
/** Orders pay within this long after they are created (un-scaled), well before the timeout. */
const PAY_WITHIN_MS = 10 * 60_000;
const LOOP_MS = 50;
const PAGE_SIZE = 500;
const QUEUE = "order-timeouts";

export async function runApproach(spec: RunSpec): Promise<RunResult> {
  const scanEveryReal = SCAN_EVERY_MS / spec.speed;
  if (scanEveryReal < 1000)
    throw new Error(
      `--speed ${spec.speed}: the 20 s scan would run every ${scanEveryReal} ms, under a schedule's 1 s minimum`,
    );

  const env = await openEnvironment(spec);
  try {
    return await measure(spec, env);
  } catch (error) {
    await env.checkback.close().catch(() => {});
    await env.finish().catch(() => {});
    throw error;
  }
}

async function measure(spec: RunSpec, env: Environment): Promise<RunResult> {
  const { speed } = spec;
  const timeoutReal = TIMEOUT_MS / speed;
  const scanEveryReal = SCAN_EVERY_MS / speed;
  const windowReal = (spec.windowMinutes * 60_000) / speed;
  const payWithinReal = PAY_WITHIN_MS / speed;
  const { orders, checkback } = env;
  const latenessMs = new Float64Array(spec.orders);
  let closed = 0;
  let rowsRead = 0;
  let closingQueries = 0;
  let scanTicks = 0;
  const recordClose = (ms: number) => {
    latenessMs[closed++] = ms;
  };

  // How the orders are closed.
  const queue = checkback.queue<{ id: number; createdAt: number }>(QUEUE);
  if (spec.approach === "queue") {
    checkback.worker<{ id: number; createdAt: number }>(
      QUEUE,
      async (job) => {
        closingQueries += 1;
        if (await orders.closeOne(job.payload.id, Date.now())) {
          recordClose(Date.now() - (job.payload.createdAt + timeoutReal));
        }
      },
      { concurrency: 50 },
    );
  } else {
    await checkback.schedule("order-scan", { every: scanEveryReal, missed: "latest" }, async (job) => {
      scanTicks += 1;
      const tick = Date.parse(job.payload.tick);
      const cutoff = tick - timeoutReal;
      let after: OrderRow | null = null;
      for (;;) {
        const page: OrderRow[] = await orders.unpaidPage(cutoff, after, PAGE_SIZE);
        closingQueries += 1;
        rowsRead += page.length;
        if (page.length === 0) break;
        const done = await orders.closeMany(
          page.map((r) => r.id),
          Date.now(),
        );
        const at = Date.now();
        closingQueries += 1;
        // Waiting for the tick is timetable time (scaled); from the tick on, real work.
        for (const row of done) recordClose((tick - (row.createdAt + timeoutReal)) * speed + (at - tick));
        if (page.length < PAGE_SIZE) break;
        after = page.at(-1)!;
      }
    });
  }
  const meters = await env.meters();
  const walStart = env.pool ? await walBytes(env.pool) : 0;

  // Orders arrive evenly over the window; some pay within PAY_WITHIN of creation.
  const payments = new Map<number, number[]>(); // loop slot → order ids due to pay then
  let created = 0;
  let paid = 0;
  let expectedClosed = 0;
  let producerLagMaxMs = 0;
  const started = Date.now();
  let lastNote = started;
  const deadline = started + windowReal + timeoutReal + Math.max(60_000, 5 * scanEveryReal);
  for (let slot = 0; ; slot++) {
    const now = Date.now();
    const owed = Math.min(spec.orders, Math.floor(((now - started) / windowReal) * spec.orders));
    if (owed > created) {
      const rows: OrderRow[] = [];
      for (let id = created + 1; id <= owed; id++) rows.push({ id, createdAt: now });
      producerLagMaxMs = Math.max(producerLagMaxMs, now - (started + (created / spec.orders) * windowReal));
      await orders.insert(rows);
      if (spec.approach === "queue") {
        await queue.addBulk(rows.map((r) => ({ payload: r, options: { delay: timeoutReal, key: `order-${r.id}` } })));
      }
      for (const r of rows) {
        if (Math.random() < spec.paidShare) {
          const paySlot = Math.floor((r.createdAt - started + Math.random() * payWithinReal) / LOOP_MS);
          const ids = payments.get(paySlot);
          if (ids) ids.push(r.id);
          else payments.set(paySlot, [r.id]);
        } else expectedClosed += 1;
      }
      created = owed;
    }
    const nowSlot = Math.floor((Date.now() - started) / LOOP_MS);
    for (const [paySlot, ids] of payments) {
      if (paySlot > nowSlot) continue;
      payments.delete(paySlot);
      paid += await orders.pay(ids);
      if (spec.approach === "queue") {
        for (let i = 0; i < ids.length; i += 50) {
          await Promise.all(ids.slice(i, i + 50).map((id) => queue.cancel({ key: `order-${id}` })));
        }
      }
    }
    if (Date.now() - lastNote >= 5000) {
      lastNote = Date.now();
      await meters.sample();
      note(
        `  [${spec.store} ${spec.approach} ${spec.orders}] ${((lastNote - started) / 1000).toFixed(0)} s: ` +
          `created ${created}/${spec.orders}, paid ${paid}, closed ${closed}/${created === spec.orders ? expectedClosed : "…"}` +
          (scanTicks ? `, scans ${scanTicks}` : ""),
      );
    }
    if (created === spec.orders && payments.size === 0 && closed >= expectedClosed) break;
    if (Date.now() > deadline) throw new Error(`not done by the deadline: closed ${closed}/${expectedClosed}`);
    await sleep(Math.max(1, started + (slot + 1) * LOOP_MS - Date.now()));
  }
  const realSeconds = (Date.now() - started) / 1000;
  const usage = await meters.usage();
  const wal = env.pool ? (await walBytes(env.pool)) - walStart : null;
  const pagePlan = spec.approach === "scan" ? await orders.pagePlan() : "";
  await checkback.close();
  const { ordersTuples, storeTuples, storeBytes } = await env.finish();

  const sorted = latenessMs.subarray(0, closed).sort();
  const at = (q: number) => sorted[Math.min(closed - 1, Math.floor(q * closed))] ?? 0;
  const cdf: [number, number][] = [];
  for (let i = 0; i <= 200; i++) cdf.push([Math.max(0, at(i / 200)), i / 200]);
  cdf.push([Math.max(0, sorted[closed - 1] ?? 0), 1]);
  return {
    spec,
    label: `${spec.approach === "queue" ? "delay queue" : "scan every 20 s"} (${spec.store})`,
    realSeconds,
    created,
    paid,
    closed,
    lateness: { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[closed - 1] ?? 0, cdf },
    ordersRowsReadPerClose: spec.approach === "scan" ? rowsRead / Math.max(1, closed) : 1,
    closingQueries,
    scanTicks,
    ordersTuples,
    storeTuples,
    storeCpuSeconds: usage.store.cpuSeconds,
    storeWriteBytes: usage.store.writeBytes,
    storeRssPeakBytes: usage.store.rssPeakBytes,
    nodeCpuSeconds: usage.node.cpuSeconds,
    nodeRssPeakBytes: usage.node.rssPeakBytes,
    walBytes: wal,
    storeBytes,
    producerLagMaxMs,
    pagePlan,
  };
}

interface Environment {
  orders: OrdersTable;
  checkback: Checkback;
  pool: pg.Pool | null;
  meters(): Promise<{ sample(): Promise<void>; usage(): Promise<{ store: Usage; node: Usage }> }>;
  /** After checkback is closed: reads what is left to read and removes everything. */
  finish(): Promise<{ ordersTuples: TupleCounts | null; storeTuples: TupleCounts | null; storeBytes: number }>;
}

type Usage = Awaited<ReturnType<Meter["usage"]>>;

async function openEnvironment(spec: RunSpec): Promise<Environment> {
  if (spec.store === "sqlite") {
    const dir = await mkdtemp(join(tmpdir(), "checkback-tvs-"));
    const orders = openSqliteOrders(join(dir, "orders.db"));
    const storePath = join(dir, "store.db");
    const checkback = new Checkback({ store: new SqliteStore({ path: storePath }) as Store });
    return {
      orders,
      checkback,
      pool: null,
      meters: async () => {
        const node = await processMeter();
        return {
          sample: () => node.sample(),
          usage: async () => {
            const u = await node.usage();
            return { store: u, node: u };
          },
        };
      },
      finish: async () => {
        await orders.close();
        let storeBytes = 0;
        for (const f of ["store.db", "store.db-wal"])
          storeBytes += await stat(join(dir, f)).then(
            (s) => s.size,
            () => 0,
          );
        await rm(dir, { recursive: true, force: true });
        return { ordersTuples: null, storeTuples: null, storeBytes };
      },
    };
  }
  const id = `${process.pid}_${Date.now().toString(36)}`;
  const appName = `tvs_${id}`;
  const url = new URL(spec.databaseUrl);
  url.searchParams.set("application_name", appName);
  const pool = new pg.Pool({ connectionString: url.toString(), max: 10 });
  const ordersSchema = `tvs_orders_${id}`;
  const storeSchema = `tvs_store_${id}`;
  const orders = await openPostgresOrders(pool, ordersSchema);
  const checkback = new Checkback({
    store: new PostgresStore({ connectionString: url.toString(), schema: storeSchema }),
  });
  await checkback.queue(QUEUE).counts(); // creates the store's tables before the meters start
  const admin = new pg.Pool({ connectionString: spec.databaseUrl, max: 1 });
  return {
    orders,
    checkback,
    pool: admin,
    meters: async () => {
      const [backends, node] = [await backendMeter(admin, appName), await processMeter()];
      return {
        sample: async () => {
          await backends.sample();
          await node.sample();
        },
        usage: async () => ({ store: await backends.usage(), node: await node.usage() }),
      };
    },
    finish: async () => {
      await pool.end();
      await sleep(1500); // ended backends flush their table statistics
      const ordersTuples = await tupleCounts(admin, ordersSchema);
      const storeTuples = await tupleCounts(admin, storeSchema);
      const size = await admin.query<{ bytes: string }>(
        `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) AS bytes FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'`,
        [storeSchema],
      );
      for (const schema of [ordersSchema, storeSchema]) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
      return { ordersTuples, storeTuples, storeBytes: Number(size.rows[0]?.bytes ?? 0) };
    },
  };
}
