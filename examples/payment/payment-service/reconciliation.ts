import { type Check, type Checkback, parseDuration, type Sweep } from "checkback";
import { parseAmount } from "../shared/money.js";
import type { SimClock } from "../shared/sim-clock.js";
import type { Log } from "../shared/timeline.js";
import { type AlipayClient, isPaid } from "./alipay-client.js";
import type { OutboxRelay } from "./outbox-relay.js";
import type { Payment, PaymentBook } from "./payments.js";
import type { RefundDesk } from "./refunds.js";
import type { TradeCheckInput, TradePaid } from "./trade-check.js";

export const RECONCILIATION = "payment-reconciliation";
const PAGE = 100;
/** The day's payments, plus an hour of overlap with the previous run. */
const WINDOW = "25h";

export interface Finding {
  outTradeNo: string;
  /** What did not agree. */
  finding: string;
  /** What was done about it; null: nothing could be, a person must look (an alert was raised). */
  repair: string | null;
}

export interface ReconciliationDeps {
  alipay: AlipayClient;
  payments: PaymentBook;
  check: Check<TradeCheckInput, TradePaid>;
  relay: OutboxRelay;
  refunds: RefundDesk;
  clock: SimClock;
  log: Log;
}

/**
 * The nightly reconciliation: a sweep over the day's payments that asks Alipay about each and
 * compares. It queries every trade not final and every PAID payment without a delivered
 * outcome (and, while at it, every other one: a closed payment whose trade took money is the
 * costliest disagreement there is), repairs what it can — ends a check Alipay has the answer
 * for, requeues an outcome or a refund, starts a refund for money kept on a closed payment —
 * and reports what it cannot as an alert. Each finding is stored with the run that made it.
 * A sweep run is resumable and an item whose handler throws (Alipay down) is retried.
 */
export function defineReconciliation(checkback: Checkback, deps: ReconciliationDeps): Sweep<Payment> {
  const { payments, clock } = deps;
  return checkback.sweep<Payment>(RECONCILIATION, {
    // The cursor carries the run's window, so a resumed run reconciles the same day.
    page: (cursor) => {
      const [from, to, after] = cursor
        ? (cursor.split("|") as [string, string, string])
        : [String(clock.now().getTime() - parseDuration(WINDOW)), String(clock.now().getTime()), ""];
      const items = payments.page(Number(from), Number(to), after || null, PAGE);
      return { items, next: items.length === PAGE ? `${from}|${to}|${items.at(-1)!.outTradeNo}` : null };
    },
    handle: async (payment, { runId }) => {
      for (const found of await reconcile(payment.outTradeNo, deps)) {
        payments.recordFinding(runId, found, clock.now().getTime());
        if (found.repair === null)
          payments.alert(found.outTradeNo, "reconciliation", found.finding, clock.now().getTime());
        deps.log("payment", `reconciliation: ${found.outTradeNo} ${found.finding} → ${found.repair ?? "ALERT"}`);
      }
    },
    concurrency: 10,
    attempts: 5,
    backoff: { type: "exponential", delay: clock.real("1m"), max: clock.real("30m") },
  });
}

/** One payment against its trade. Throws when Alipay cannot be asked (the sweep retries the item). */
export async function reconcile(outTradeNo: string, deps: ReconciliationDeps): Promise<Finding[]> {
  const { alipay, payments, check, relay, refunds } = deps;
  const now = deps.clock.now().getTime();
  const found: Finding[] = [];
  const payment = payments.get(outTradeNo)!;
  const trade = await alipay.query(outTradeNo);
  const tradePaid = trade !== null && isPaid(trade.status);
  if (trade && parseAmount(trade.totalAmount) !== payment.amountCents) {
    found.push({ outTradeNo, finding: `trade amount ${trade.totalAmount} is not the payment's`, repair: null });
    return found;
  }
  const refundRows = payments.refundsFor(outTradeNo);

  if (payment.status === "UNPAID") {
    const status = await check.status(outTradeNo);
    const running = status?.state === "running";
    const outcomePending = status?.outcome && status.outcome.state !== "completed";
    if (tradePaid) {
      if (running)
        await check.resolve(outTradeNo, {
          tradeNo: trade.tradeNo,
          tradeStatus: trade.status as TradePaid["tradeStatus"],
        });
      else if (!outcomePending) payments.finish(outTradeNo, "PAID", trade.tradeNo, now);
      await relay.flush(outTradeNo);
      found.push({
        outTradeNo,
        finding: "trade paid, payment UNPAID",
        repair: running ? "check resolved" : "marked PAID",
      });
    } else if (trade?.status === "TRADE_CLOSED") {
      if (running) await check.reject(outTradeNo, "TRADE_CLOSED");
      else if (!outcomePending) payments.finish(outTradeNo, "CLOSED", null, now);
      await relay.flush(outTradeNo);
      found.push({
        outTradeNo,
        finding: "trade closed, payment UNPAID",
        repair: running ? "check ended" : "marked CLOSED",
      });
    } else if (!running && !outcomePending) {
      // Nobody is watching this trade any more (a check lost or cancelled by hand): watch it again;
      // it gives up at its deadline and closes the trade as usual.
      await check.start(outTradeNo, { orderId: payment.orderId });
      found.push({
        outTradeNo,
        finding: `trade ${trade?.status ?? "not opened"} and no check watching it`,
        repair: "check started",
      });
    }
  } else if (payment.status === "CLOSED" && tradePaid) {
    // Money kept for a closed payment: give it back.
    payments.requestRefund(outTradeNo, "reconciliation: trade paid, payment closed", now);
    await refunds.flush(outTradeNo);
    found.push({ outTradeNo, finding: "trade paid, payment CLOSED", repair: "refund started" });
  } else if (payment.status === "PAID" && !tradePaid) {
    const refunded = refundRows.some((r) => r.status === "DONE") && trade?.status === "TRADE_CLOSED";
    if (!refunded && refundRows.length === 0)
      found.push({ outTradeNo, finding: `payment PAID, trade ${trade?.status ?? "missing"}`, repair: null });
  }

  for (const row of payments.undelivered(outTradeNo)) {
    await relay.flush(outTradeNo);
    found.push({ outTradeNo, finding: `outcome ${row.body.outcome} not delivered`, repair: "delivery queued" });
  }
  for (const refund of refundRows.filter((r) => r.status !== "DONE")) {
    if (await refunds.confirm(refund)) {
      found.push({ outTradeNo, finding: `refund ${refund.outRequestNo} done but not recorded`, repair: "recorded" });
    } else if (refund.status === "PENDING") {
      await refunds.flush(outTradeNo);
      found.push({ outTradeNo, finding: `refund ${refund.outRequestNo} pending`, repair: "refund queued" });
    } else {
      found.push({ outTradeNo, finding: `refund ${refund.outRequestNo} failed`, repair: null });
    }
  }
  return found;
}
