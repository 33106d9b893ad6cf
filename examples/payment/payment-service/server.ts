import { join } from "node:path";
import { createCheckback, type Duration, parseDuration } from "checkback";
import Fastify from "fastify";
import { acceptFormBodies } from "../shared/form-body.js";
import { formatAmount } from "../shared/money.js";
import { alipayTimestamp, type SimClock } from "../shared/sim-clock.js";
import { type Log, silent } from "../shared/timeline.js";
import { AlipayClient, type AlipayConfig } from "./alipay-client.js";
import { receiveNotify } from "./notify.js";
import { OutboxRelay } from "./outbox-relay.js";
import { PaymentBook } from "./payments.js";
import { defineTradeCheck } from "./trade-check.js";

export interface PaymentServiceOptions {
  /** Where the service keeps its database and its checkback store. */
  dataDir: string;
  /** This service's base URL as Alipay and shoppers reach it (notify_url, return_url). */
  publicUrl: string;
  port: number;
  orderServiceUrl: string;
  alipay: AlipayConfig;
  clock: SimClock;
  /** How long the shopper has to pay (default "15m"); must end before the order times out. */
  payWindow?: Duration;
  log?: Log;
}

export interface PaymentService {
  url: string;
  payments: PaymentBook;
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
 * check until it is paid or given up, and hands the one outcome on to the order service.
 */
export async function startPaymentService(options: PaymentServiceOptions): Promise<PaymentService> {
  const { clock, publicUrl } = options;
  const log = options.log ?? silent;
  const payWindow = options.payWindow ?? "15m";
  const payments = new PaymentBook(join(options.dataDir, "payments.db"));
  const checkback = createCheckback({ store: `sqlite:${join(options.dataDir, "payment-jobs.db")}` });
  const alipay = new AlipayClient(options.alipay);
  const relay = new OutboxRelay(checkback, payments, options.orderServiceUrl, clock, log);
  const check = defineTradeCheck(checkback, { alipay, payments, relay, clock, payWindow, log });
  await relay.flush(); // outcomes a previous run committed but did not get out

  const app = Fastify();
  acceptFormBodies(app);

  // The shopper's "Pay with Alipay" link: create the payment (once per order), start watching
  // it, and send the shopper to the cashier.
  app.get<{ Params: { orderId: string } }>("/pay/:orderId", async (request, reply) => {
    const found = await fetch(`${options.orderServiceUrl}/orders/${encodeURIComponent(request.params.orderId)}`);
    if (found.status === 404) return reply.code(404).send({ error: "no such order" });
    if (!found.ok) throw new Error(`order service answered ${found.status}`);
    const order = (await found.json()) as OrderView;
    if (order.status !== "UNPAID") return reply.code(409).send({ error: `order is ${order.status}` });

    const now = clock.now().getTime();
    const expiresAt = now + parseDuration(payWindow);
    const { payment, created } = payments.openFor(
      { orderId: order.id, subject: order.subject, amountCents: order.amountCents },
      now,
      expiresAt,
    );
    if (payment.status !== "UNPAID") return reply.code(409).send({ error: `payment is ${payment.status}` });
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
    return reply.redirect(cashier, 302);
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
    const { answer, verdict } = await receiveNotify(form, { alipay, appId: options.alipay.appId, payments, check });
    payments.recordNotify(
      { outTradeNo: form.out_trade_no, notifyId: form.notify_id, tradeStatus: form.trade_status, verdict },
      clock.now().getTime(),
    );
    log("payment", `notify ${form.trade_status ?? "?"} for ${form.out_trade_no ?? "?"}: ${verdict} → ${answer}`);
    return reply
      .code(answer === "success" ? 200 : 400)
      .type("text/plain")
      .send(answer);
  });

  // Inspection, for operators and the end-to-end tests.
  app.get<{ Params: { outTradeNo: string } }>("/payments/:outTradeNo", async (request, reply) => {
    const payment = payments.get(request.params.outTradeNo);
    if (!payment) return reply.code(404).send({ error: "no such payment" });
    return {
      payment,
      check: await check.status(payment.outTradeNo),
      outbox: payments.outboxFor(payment.outTradeNo),
      notifies: payments.notifiesFor(payment.outTradeNo),
    };
  });

  await app.listen({ port: options.port, host: "127.0.0.1" });
  return {
    url: publicUrl,
    payments,
    async close() {
      await app.close();
      await checkback.close();
      payments.close();
    },
  };
}
