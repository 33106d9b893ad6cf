import { join } from "node:path";
import { createCheckback, type Duration, parseDuration, type RateLimitInput } from "checkback";
import Fastify, { type FastifyReply } from "fastify";
import { acceptFormBodies } from "../shared/form-body.js";
import { formatAmount } from "../shared/money.js";
import { keepRawJsonBodies, ServiceAuth } from "../shared/service-auth.js";
import { alipayTimestamp, type SimClock } from "../shared/sim-clock.js";
import { type Log, silent } from "../shared/timeline.js";
import { AlipayClient, type AlipayConfig } from "./alipay-client.js";
import { answerCloseRequest } from "./close-request.js";
import { receiveNotify } from "./notify.js";
import { OutboxRelay } from "./outbox-relay.js";
import { PaymentBook } from "./payments.js";
import { defineReconciliation, RECONCILIATION } from "./reconciliation.js";
import { RefundDesk } from "./refunds.js";
import { ALIPAY_QUERY_RATE, defineTradeCheck } from "./trade-check.js";

export interface PaymentServiceOptions {
  /** Where the service keeps its database and its checkback store. */
  dataDir: string;
  /** This service's base URL as Alipay and shoppers reach it (notify_url, return_url). */
  publicUrl: string;
  port: number;
  orderServiceUrl: string;
  alipay: AlipayConfig;
  /** Shared with the order service: calls between the two are signed with it. */
  serviceSecret: string;
  clock: SimClock;
  /** How long the shopper has to pay (default "15m"); must end before the order times out. */
  payWindow?: Duration;
  /** Attempts of a refund job before it goes dead for a person to redrive (default 30). */
  refundAttempts?: number;
  /** The trade check's alipay.trade.query rate, under Alipay's quota for the app (default ALIPAY_QUERY_RATE); null: none. */
  alipayQueryRate?: RateLimitInput | null;
  log?: Log;
}

export interface PaymentService {
  url: string;
  payments: PaymentBook;
  /** Runs the reconciliation now (as the nightly schedule does) and resolves with its run once it has finished. */
  reconcile(): Promise<{ runId: string; state: string }>;
  close(): Promise<void>;
}

interface OrderView {
  id: string;
  subject: string;
  amountCents: number;
  status: string;
}

/**
 * The payment service: turns an order into an Alipay trade, watches the trade with a delayed
 * check until it is paid or given up, hands the one outcome on to the order service, answers
 * the order side before it closes an order, gives back money an order closed anyway received,
 * and reconciles the day's payments with Alipay every night.
 */
export async function startPaymentService(options: PaymentServiceOptions): Promise<PaymentService> {
  const { clock, publicUrl } = options;
  const log = options.log ?? silent;
  const payWindow = options.payWindow ?? "15m";
  const now = () => clock.now().getTime();
  const payments = new PaymentBook(join(options.dataDir, "payments.db"));
  const checkback = createCheckback({ store: `sqlite:${join(options.dataDir, "payment-jobs.db")}` });
  const auth = new ServiceAuth(options.serviceSecret);
  const alipay = new AlipayClient(options.alipay);
  const refunds = new RefundDesk(checkback, payments, alipay, clock, log, options.refundAttempts);
  const relay = new OutboxRelay(checkback, payments, refunds, options.orderServiceUrl, auth, clock, log);
  const check = defineTradeCheck(checkback, {
    alipay,
    payments,
    relay,
    clock,
    payWindow,
    appId: options.alipay.appId,
    queryRate: options.alipayQueryRate === undefined ? ALIPAY_QUERY_RATE : options.alipayQueryRate,
    log,
  });
  const reconciliation = defineReconciliation(checkback, { alipay, payments, check, relay, refunds, clock, log });
  // The nightly run: 02:00 Beijing time; on a sped-up clock, every business day.
  await checkback.schedule(
    RECONCILIATION,
    clock.speed === 1
      ? { cron: "0 0 2 * * *", timezone: "Asia/Shanghai", missed: "latest" }
      : { every: clock.real("24h"), missed: "latest" },
    () => reconciliation.start(),
  );
  // Outcomes and refunds a previous run committed but did not get out.
  await relay.flush();
  await refunds.flush();

  const app = Fastify();
  acceptFormBodies(app);
  keepRawJsonBodies(app);

  const readOrder = async (orderId: string): Promise<OrderView | null | "unavailable"> => {
    try {
      const found = await auth.fetch(`${options.orderServiceUrl}/orders/${encodeURIComponent(orderId)}`);
      if (found.status === 404) return null;
      if (!found.ok) return "unavailable";
      return (await found.json()) as OrderView;
    } catch {
      return "unavailable";
    }
  };
  /** 409 only when the order itself shows it is not payable: a shopper never sees "conflict" beside an UNPAID order. */
  const notPayable = async (orderId: string, reply: FastifyReply) => {
    const order = await readOrder(orderId);
    if (order && order !== "unavailable" && order.status !== "UNPAID")
      return reply.code(409).send({ error: `order is ${order.status}` });
    return reply.code(503).header("retry-after", "5").send({ error: "the order is being settled; try again shortly" });
  };

  // The shopper's "Pay with Alipay" page. A GET changes nothing (link previews and prefetchers
  // open links): it only shows the button that POSTs.
  app.get<{ Params: { orderId: string } }>("/pay/:orderId", async (request, reply) => {
    const action = `/pay/${encodeURIComponent(request.params.orderId)}`;
    return reply
      .type("text/html")
      .send(
        `<!doctype html><meta charset="utf-8"><form method="post" action="${action}"><button>Pay with Alipay</button></form>`,
      );
  });

  // Create the payment (once per order), start watching it, and send the shopper to the cashier.
  app.post<{ Params: { orderId: string } }>("/pay/:orderId", async (request, reply) => {
    const order = await readOrder(request.params.orderId);
    if (order === null) return reply.code(404).send({ error: "no such order" });
    if (order === "unavailable") return reply.code(503).header("retry-after", "5").send({ error: "try again shortly" });
    if (order.status !== "UNPAID") return reply.code(409).send({ error: `order is ${order.status}` });

    const opened = payments.openFor(
      { orderId: order.id, subject: order.subject, amountCents: order.amountCents },
      now(),
      now() + parseDuration(payWindow),
    );
    if ("sealed" in opened) return notPayable(order.id, reply);
    const { payment, created } = opened;
    if (payment.status !== "UNPAID") {
      // Settled, and the order has not heard yet: hand the outcome on now, then answer from the order.
      await relay.deliverNow(payment.outTradeNo);
      return notPayable(order.id, reply);
    }
    // Idempotent: a running check for this out_trade_no is kept. Started after the payment row
    // exists, and again on a later visit if a crash came in between.
    if (created || (await check.status(payment.outTradeNo)) === null) {
      await check.start(payment.outTradeNo, { orderId: order.id });
      log("payment", `payment ${payment.outTradeNo} for order ${order.id} created (UNPAID), check started`);
    }
    const cashier = alipay.pagePayUrl({
      outTradeNo: payment.outTradeNo,
      totalAmount: formatAmount(payment.amountCents),
      subject: payment.subject,
      timeExpire: alipayTimestamp(new Date(payment.expiresAt)),
      notifyUrl: `${publicUrl}/alipay/notify`,
      returnUrl: `${publicUrl}/pay/return`,
    });
    return reply.redirect(cashier, 303);
  });

  // Where the cashier sends the shopper back. It proves nothing (anyone can open this URL, and
  // shoppers close the tab before getting here): it shows what we know and marks nothing paid.
  app.get<{ Querystring: { out_trade_no?: string } }>("/pay/return", async (request, reply) => {
    const payment = payments.get(request.query.out_trade_no ?? "");
    const text =
      payment?.status === "PAID"
        ? "Payment received, thank you."
        : "Thank you! We are confirming your payment with Alipay.";
    return reply.type("text/html").send(`<!doctype html><meta charset="utf-8"><p>${text}</p>`);
  });

  app.post("/alipay/notify", async (request, reply) => {
    const form = (request.body ?? {}) as Record<string, string>;
    const { answer, verdict } = await receiveNotify(form, {
      alipay,
      appId: options.alipay.appId,
      sellerId: options.alipay.sellerId,
      payments,
      refunds,
      check,
      now,
    });
    payments.recordNotify(
      { outTradeNo: form.out_trade_no, notifyId: form.notify_id, tradeStatus: form.trade_status, verdict },
      now(),
    );
    log("payment", `notify ${form.trade_status ?? "?"} for ${form.out_trade_no ?? "?"}: ${verdict} → ${answer}`);
    return reply
      .code(answer === "success" ? 200 : 400)
      .type("text/plain")
      .send(answer);
  });

  // --- called by the order service only (signed) ------------------------------------------

  app.post<{ Params: { orderId: string }; Body: { reason: "timeout" | "cancelled" } }>(
    "/orders/:orderId/close",
    {
      preHandler: auth.guard,
      schema: {
        body: {
          type: "object",
          additionalProperties: false,
          required: ["reason"],
          properties: { reason: { enum: ["timeout", "cancelled"] } },
        },
      },
    },
    async (request) => {
      const answer = await answerCloseRequest(request.params.orderId, request.body.reason, {
        alipay,
        payments,
        check,
        now,
        log,
      });
      return answer;
    },
  );

  // --- operators (behind your own access control in production) ---------------------------

  app.get<{ Params: { outTradeNo: string } }>("/payments/:outTradeNo", async (request, reply) => {
    const payment = payments.get(request.params.outTradeNo);
    if (!payment) return reply.code(404).send({ error: "no such payment" });
    return {
      payment,
      check: await check.status(payment.outTradeNo),
      outbox: payments.outboxFor(payment.outTradeNo),
      notifies: payments.notifiesFor(payment.outTradeNo),
      refunds: payments.refundsFor(payment.outTradeNo),
      alerts: payments.alerts(payment.outTradeNo),
    };
  });
  app.get("/alerts", async () => payments.alerts());
  app.post("/refunds/redrive", async () => ({ redriven: await refunds.redrive() }));
  app.get("/reconciliation", async () => ({ status: await reconciliation.status(), findings: payments.findings() }));

  await app.listen({ port: options.port, host: "127.0.0.1" });
  return {
    url: publicUrl,
    payments,
    async reconcile() {
      const { id: runId } = await reconciliation.start();
      for (;;) {
        const status = await reconciliation.status();
        if (status.run?.id === runId && status.state !== "running") return { runId, state: status.state };
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async close() {
      await app.close();
      await checkback.close();
      payments.close();
    },
  };
}
