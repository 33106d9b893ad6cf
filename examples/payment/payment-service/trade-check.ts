import {
  type Check,
  type Checkback,
  type CheckOutcome,
  type Duration,
  parseDuration,
  type RateLimitInput,
} from "checkback";
import { parseAmount } from "../shared/money.js";
import type { SimClock } from "../shared/sim-clock.js";
import type { Log } from "../shared/timeline.js";
import { type AlipayClient, isPaid, type TradeView } from "./alipay-client.js";
import type { OutboxRelay } from "./outbox-relay.js";
import type { PaymentBook } from "./payments.js";

export interface TradeCheckInput {
  orderId: string;
}

/** How a check ends "done": the trade was paid, learned from a query or from a notify. */
export interface TradePaid {
  tradeNo: string;
  tradeStatus: "TRADE_SUCCESS" | "TRADE_FINISHED";
}

/**
 * How far Alipay's clock may be from ours. Nothing concludes "the shopper can no longer pay"
 * before time_expire plus this: the check's deadline keeps it over the trade's time_expire, and
 * a close answered ACQ.TRADE_NOT_EXIST is only believed after it.
 */
export const CLOCK_SKEW_MARGIN: Duration = "2m";

/**
 * When to ask Alipay about a trade nobody has told us about, counted from the redirect: soon
 * at first (most shoppers pay within a minute), then rarer. The deadline (the payment window,
 * also sent to Alipay as time_expire) cuts it off.
 */
export const TRADE_CHECK_SCHEDULE: Duration[] = ["10s", "10s", "30s", "1m", "2m", "5m", "5m", "5m"];

/**
 * Alipay limits how many calls a second each app may make to each open API; the figure is set
 * per app (read yours in the Alipay open platform, or ask your account manager). The example
 * assumes 500 `alipay.trade.query` calls a second.
 */
export const ALIPAY_QUERY_QUOTA_PER_SECOND = 500;

/**
 * The trade check's probe rate under that quota. A token bucket lets its whole size through on
 * top of its steady rate within one second (a bucket full after a quiet spell), so `{ rate: 500,
 * per: "1s" }` could send up to 1,000 queries in the first second of a rush. 45 per 100 ms is a
 * bucket of 45 refilled at 450 a second: at most 45 + 450 = 495 queries in any second.
 */
export const ALIPAY_QUERY_RATE: RateLimitInput = { rate: 45, per: "100ms" };

export interface TradeCheckDeps {
  alipay: AlipayClient;
  payments: PaymentBook;
  relay: OutboxRelay;
  clock: SimClock;
  /** How long a shopper has to pay (business time): time_expire is this long after the payment is made. */
  payWindow: Duration;
  /** The app the queries are made as: its probes share one group, the quota's unit. */
  appId: string;
  /** The probes' rate limit, in real time (Alipay's quota does not speed up with the business clock); null: none. */
  queryRate: RateLimitInput | null;
  log: Log;
}

/**
 * The delayed check on one out_trade_no. Its probe asks Alipay (alipay.trade.query); the
 * notify endpoint resolves it from outside; whichever comes first ends it, once. Its outcome
 * handlers run as durable jobs, at least once, and apply the payment's one status change.
 */
export function defineTradeCheck(checkback: Checkback, deps: TradeCheckDeps): Check<TradeCheckInput, TradePaid> {
  const { alipay, payments, relay, clock, log } = deps;
  const now = () => clock.now().getTime();

  /** A trade whose amount is not the payment's is not our payment's trade, whatever its status says. */
  const checkAmount = (outTradeNo: string, trade: TradeView) => {
    const payment = payments.get(outTradeNo);
    if (payment && parseAmount(trade.totalAmount) !== payment.amountCents) {
      throw new Error(`trade ${outTradeNo} has total_amount ${trade.totalAmount}, not the payment's amount`);
    }
  };

  /** The status change and its outbox row (one transaction), then the hand-on queued. */
  const finish = async (outTradeNo: string, to: "PAID" | "CLOSED", tradeNo: string | null, why: string) => {
    if (payments.finish(outTradeNo, to, tradeNo, now())) log("payment", `payment ${outTradeNo} is ${to} (${why})`);
    // Also when nothing changed: this may be a redelivery after a crash between the commit
    // and the queueing, and the outcome must still go out.
    await relay.flush(outTradeNo);
  };

  return checkback.check<TradeCheckInput, TradePaid>("alipay-trade", {
    schedule: TRADE_CHECK_SCHEDULE.map((interval) => clock.real(interval)),
    // Past time_expire by the clock-skew margin: when it gives up, the shopper can no longer pay.
    deadline: clock.real(parseDuration(deps.payWindow) + parseDuration(CLOCK_SKEW_MARGIN)),
    // Alipay's quota is per app, across every process of the service: every probe joins the
    // app's group, and the group's rate limit is the quota. Outcome deliveries are outside the
    // group and do not spend it.
    group: `alipay-app:${deps.appId}`,
    probeRate: deps.queryRate,
    async probe({ key, probe, pending, done, failed }) {
      // A throw (ACQ.SYSTEM_ERROR, a 5xx, a timeout) is a failed probe: recorded, and the schedule goes on.
      const trade = await alipay.query(key).catch((error: Error) => {
        log("payment", `probe #${probe} of ${key}: ${error.message}`);
        throw error;
      });
      log("payment", `probe #${probe} of ${key}: ${trade?.status ?? "ACQ.TRADE_NOT_EXIST"}`);
      if (trade === null || trade.status === "WAIT_BUYER_PAY") return pending();
      checkAmount(key, trade);
      if (isPaid(trade.status))
        return done({ tradeNo: trade.tradeNo, tradeStatus: trade.status as TradePaid["tradeStatus"] });
      return failed("TRADE_CLOSED"); // closed is final: it can never be paid
    },
    onDone: (outcome) => finish(outcome.key, "PAID", outcome.result.tradeNo, describe(outcome)),
    onFailed: (outcome) => finish(outcome.key, "CLOSED", null, describe(outcome)),
    async onGaveUp(outcome) {
      // Nobody paid within the window: close the trade so it cannot be paid later. If the close
      // is refused because the trade is no longer open, the shopper paid at the last moment
      // (or it closed on its own): ask which, and record that instead.
      const closed = await alipay.close(outcome.key);
      log("payment", `gave up on ${outcome.key} (${outcome.reason}); alipay.trade.close: ${closed}`);
      if (closed === "closed") return finish(outcome.key, "CLOSED", null, "gave up, trade closed");
      if (closed === "not-exist") {
        // Never opened. Safe to call closed only once the link can no longer open a trade:
        // time_expire plus the skew margin (a check started late may give up earlier).
        const payment = payments.get(outcome.key)!;
        const safeAt = payment.expiresAt + parseDuration(CLOCK_SKEW_MARGIN);
        if (now() < safeAt)
          throw new Error(
            `trade ${outcome.key} not opened yet; its link is valid until ${new Date(safeAt).toISOString()}`,
          );
        return finish(outcome.key, "CLOSED", null, "gave up, never opened, past time_expire");
      }
      const trade = await alipay.query(outcome.key);
      if (trade && isPaid(trade.status)) {
        checkAmount(outcome.key, trade);
        return finish(outcome.key, "PAID", trade.tradeNo, "paid just before the close");
      }
      if (trade?.status === "TRADE_CLOSED") return finish(outcome.key, "CLOSED", null, "gave up, trade already closed");
      throw new Error(`trade ${outcome.key} refused the close but is ${trade?.status ?? "missing"}`); // retried
    },
    outcomeRetry: {
      attempts: 100,
      backoff: { type: "exponential", delay: clock.real("5s"), max: clock.real("10m"), jitter: 0.2 },
    },
    worker: { concurrency: 20 },
  });
}

function describe(outcome: CheckOutcome<TradeCheckInput, TradePaid>): string {
  return outcome.endedBy === "resolve" || outcome.endedBy === "reject" ? "by notify" : `by probe #${outcome.probes}`;
}
