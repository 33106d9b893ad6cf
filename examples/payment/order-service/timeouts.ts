import { type Checkback, type Duration, later, parseDuration } from "checkback";
import type { SimClock } from "../shared/sim-clock.js";
import { formatOffset, type Log } from "../shared/timeline.js";
import type { Order, OrderBook } from "./orders.js";

/**
 * How orders still unpaid at their timeout are found:
 * - `queue`: a delayed job per order, due at its timeout (precise: it asks within milliseconds);
 * - `scan`: a schedule every 20 s that sweeps the unpaid orders older than the timeout (coarse:
 *   up to one interval late, but nothing waits in the store per order).
 * Both apply the same decision to each order (`closeAtTimeout`). docs/benchmarks.md
 * ("Timeout: delay queue vs scheduled scan") measures the two.
 */
export type OrderTimeoutMode = "queue" | "scan";
export const ORDER_TIMEOUT_MODES: readonly OrderTimeoutMode[] = ["queue", "scan"];

/** Reads a mode from configuration text (an environment variable); unset means `queue`. */
export function parseOrderTimeoutMode(text: string | undefined): OrderTimeoutMode {
  if (text === undefined || text === "") return "queue";
  if ((ORDER_TIMEOUT_MODES as readonly string[]).includes(text)) return text as OrderTimeoutMode;
  throw new Error(`order timeout mode must be one of ${ORDER_TIMEOUT_MODES.join(", ")}, not ${JSON.stringify(text)}`);
}

/** What the payment side answers to "may this order close?" (payment-service/close-request.ts). */
export interface CloseAnswer {
  state: "closed" | "pending" | "paid";
  detail: string;
}

export interface OrderTimeoutDeps {
  mode: OrderTimeoutMode;
  /** An order still unpaid this long after it was created is closed, once its payment side agrees. */
  after: Duration;
  orders: OrderBook;
  clock: SimClock;
  /** Asks the payment side; null when it cannot be asked now. */
  askToClose: (orderId: string) => Promise<CloseAnswer | null>;
  log: Log;
}

export interface OrderTimeouts {
  mode: OrderTimeoutMode;
  /** A new order: called before its row is written. */
  arm(orderId: string): Promise<void>;
}

/** The business interval of the scan, as in the source: every 20 s. */
export const SCAN_EVERY = "20s";
/** A schedule's interval is real time and at least 1 s. */
const MIN_REAL_INTERVAL_MS = 1_000;
const SCAN = "order-timeout-scan";
const PAGE = 100;

/**
 * The scan's real interval: 20 business seconds, but never under a schedule's 1-s minimum. On a
 * clock sped up past 20× a scan therefore comes every `speed` business seconds (at 600×: every
 * 10 business minutes), so a timed-out order waits up to that long for it.
 */
export function scanInterval(clock: SimClock): number {
  return Math.max(clock.real(SCAN_EVERY), MIN_REAL_INTERVAL_MS);
}

/** For a start-up banner: "a delayed job per order" or "a scan every 00:10:00 of business time". */
export function describeOrderTimeouts(mode: OrderTimeoutMode, clock: SimClock): string {
  if (mode === "queue") return "a delayed job per order";
  return `a scan every ${formatOffset(scanInterval(clock) * clock.speed).slice(1)} of business time`;
}

/** Outcome of the decision for one order; anything but `closed` and `settled` means "not yet". */
type Verdict = "closed" | "settled" | "paid" | "pending" | "unreachable";

/**
 * Starts finding timed-out orders the configured way. The delay queue's worker runs in both
 * modes, so jobs left by a run in `queue` mode still end after a switch to `scan`; `queue` mode
 * removes the scan's schedule and gives every unpaid order a job (the key dedupes the orders
 * that have one), so orders created in `scan` mode still time out after a switch back.
 */
export async function startOrderTimeouts(checkback: Checkback, deps: OrderTimeoutDeps): Promise<OrderTimeouts> {
  const { orders, clock, log } = deps;
  const afterMs = parseDuration(deps.after);

  // Closing is a decision both sides make: the payment side may still be watching a trade, or
  // holding a "paid" outcome that has not arrived yet. Until it says the trade is closed (or
  // there never was one), the order stays; the outcome may make it PAID meanwhile.
  const closeAtTimeout = async (orderId: string, notYet: string): Promise<Verdict> => {
    if (orders.get(orderId)?.status !== "UNPAID") return "settled";
    const answer = await deps.askToClose(orderId);
    if (answer?.state !== "closed") {
      log("order", `order ${orderId} timed out; payment side: ${answer ? answer.detail : "unreachable"} → ${notYet}`);
      return answer?.state ?? "unreachable";
    }
    if (!orders.closeIfUnpaid(orderId, clock.now().getTime())) return "settled";
    log("order", `order ${orderId} closed: unpaid at its timeout (${answer.detail}; ${deps.mode})`);
    return "closed";
  };

  const timeouts = checkback.queue<{ orderId: string }>("order-timeouts");
  checkback.worker<{ orderId: string }>(
    "order-timeouts",
    async ({ payload }) => {
      const verdict = await closeAtTimeout(payload.orderId, "later");
      if (verdict === "paid") return later(clock.real("30s"));
      if (verdict === "pending" || verdict === "unreachable") return later(clock.real("1m"));
    },
    { concurrency: 10 },
  );
  const addTimeout = (orderId: string, delay: number) =>
    timeouts.add({ orderId }, { key: orderId, delay: Math.max(0, delay) }).then(() => undefined);

  if (deps.mode === "queue") {
    await checkback.schedules.remove(SCAN);
    for (let page = orders.unpaidPage(Number.MAX_SAFE_INTEGER, null, PAGE); page.length > 0; ) {
      for (const order of page) {
        const left = order.createdAt + afterMs - clock.now().getTime();
        await addTimeout(order.id, Math.round(left / clock.speed));
      }
      const last = page.at(-1)!;
      page = orders.unpaidPage(Number.MAX_SAFE_INTEGER, last, PAGE);
    }
    return { mode: "queue", arm: (orderId) => addTimeout(orderId, clock.real(deps.after)) };
  }

  // The scan: each firing starts a sweep run over the unpaid orders created before the run's
  // cutoff (carried in the cursor, so a resumed run keeps it). One run at a time across
  // processes: a firing that finds the previous run still going joins it. An order the payment
  // side does not let close yet is simply left for the next scan.
  const sweep = checkback.sweep<Order>(SCAN, {
    page: (cursor) => {
      const [cutoff, createdAt, id] = cursor
        ? (cursor.split("|") as [string, string, string])
        : [String(clock.now().getTime() - afterMs), "", ""];
      const after = id ? { createdAt: Number(createdAt), id } : null;
      const items = orders.unpaidPage(Number(cutoff), after, PAGE);
      const last = items.at(-1);
      return { items, next: items.length === PAGE && last ? `${cutoff}|${last.createdAt}|${last.id}` : null };
    },
    handle: (order) => closeAtTimeout(order.id, "next scan"),
    concurrency: 10,
    keepRuns: 10,
  });
  await checkback.schedule(SCAN, { every: scanInterval(clock), missed: "skip" }, () => sweep.start());
  return { mode: "scan", arm: async () => {} };
}
