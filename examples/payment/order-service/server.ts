import { join } from "node:path";
import { createCheckback, type Duration } from "checkback";
import Fastify from "fastify";
import { keepRawJsonBodies, ServiceAuth } from "../shared/service-auth.js";
import type { SimClock } from "../shared/sim-clock.js";
import { type Log, silent } from "../shared/timeline.js";
import { OrderBook } from "./orders.js";
import { type CloseAnswer, type OrderTimeoutMode, startOrderTimeouts } from "./timeouts.js";

export interface OrderServiceOptions {
  dataDir: string;
  port: number;
  /** Where shoppers go to pay: `${paymentServiceUrl}/pay/:orderId`; also asked before an order closes. */
  paymentServiceUrl: string;
  /** Shared with the payment service: calls between the two are signed with it. */
  serviceSecret: string;
  clock: SimClock;
  /** An order still unpaid this long after it was created is closed, once its payment side agrees (default "30m"). */
  orderTimeout?: Duration;
  /** How timed-out orders are found: a delayed job per order, or a scan every 20 s (default "queue"; see timeouts.ts). */
  orderTimeoutMode?: OrderTimeoutMode;
  log?: Log;
}

export interface OrderService {
  url: string;
  orders: OrderBook;
  timeoutMode: OrderTimeoutMode;
  close(): Promise<void>;
}

/**
 * The order service: creates orders, closes those still unpaid at their timeout once the
 * payment side agrees (found by the delay queue or by a scheduled scan: timeouts.ts), lets a
 * person close an order, and applies the payment service's outcomes: paid, closed — or
 * "refund" for money that reached an order closed anyway.
 */
export async function startOrderService(options: OrderServiceOptions): Promise<OrderService> {
  const { clock } = options;
  const log = options.log ?? silent;
  const now = () => clock.now().getTime();
  const auth = new ServiceAuth(options.serviceSecret);
  const orders = new OrderBook(join(options.dataDir, "orders.db"));
  const checkback = createCheckback({ store: `sqlite:${join(options.dataDir, "order-jobs.db")}` });

  /** Asks the payment side; null when it cannot be asked now. */
  const askToClose = async (orderId: string, reason: "timeout" | "cancelled"): Promise<CloseAnswer | null> => {
    try {
      const response = await auth.fetch(`${options.paymentServiceUrl}/orders/${encodeURIComponent(orderId)}/close`, {
        body: { reason },
      });
      return response.ok ? ((await response.json()) as CloseAnswer) : null;
    } catch {
      return null;
    }
  };

  const timeouts = await startOrderTimeouts(checkback, {
    mode: options.orderTimeoutMode ?? "queue",
    after: options.orderTimeout ?? "30m",
    orders,
    clock,
    askToClose: (orderId) => askToClose(orderId, "timeout"),
    log,
  });

  // A person closed the order: the payment side must hear it (durably: retried until it did),
  // so that it closes the trade and gives back whatever money still arrives.
  const closeRequests = checkback.queue<{ orderId: string }>("payment-close-requests", {
    attempts: 100,
    backoff: { type: "exponential", delay: clock.real("5s"), max: clock.real("10m"), jitter: 0.2 },
  });
  checkback.worker<{ orderId: string }>(
    "payment-close-requests",
    async ({ payload }) => {
      const answer = await askToClose(payload.orderId, "cancelled");
      if (!answer) throw new Error(`payment service did not take the close of ${payload.orderId}`);
    },
    { concurrency: 10 },
  );

  const app = Fastify();
  keepRawJsonBodies(app);

  app.post<{ Body: { subject: string; amountCents: number } }>(
    "/orders",
    {
      schema: {
        body: {
          type: "object",
          additionalProperties: false,
          required: ["subject", "amountCents"],
          properties: {
            subject: { type: "string", minLength: 1, maxLength: 256 },
            amountCents: { type: "integer", minimum: 1, maximum: 100_000_000 },
          },
        },
      },
    },
    async (request, reply) => {
      const id = OrderBook.newId();
      // The timeout job first (queue mode), the order second: a crash in between leaves a job
      // that finds no order (and does nothing), never an order that nothing will close. In scan
      // mode the row is all there is: the next scan past its timeout finds it.
      await timeouts.arm(id);
      const order = orders.insert({ id, ...request.body }, now());
      log("order", `order ${id} created: ${order.subject}, ${order.amountCents} cents`);
      return reply.code(201).send({ order, payUrl: `${options.paymentServiceUrl}/pay/${id}` });
    },
  );

  app.get<{ Params: { id: string } }>("/orders/:id", async (request, reply) => {
    const order = orders.get(request.params.id);
    if (!order) return reply.code(404).send({ error: "no such order" });
    return { ...order, paymentOutcomes: orders.outcomesFor(order.id) };
  });

  // A person (the shopper, customer service) closes an unpaid order now.
  app.post<{ Params: { id: string } }>("/orders/:id/cancel", async (request, reply) => {
    const order = orders.get(request.params.id);
    if (!order) return reply.code(404).send({ error: "no such order" });
    if (order.status !== "UNPAID") return reply.code(409).send({ error: `order is ${order.status}` });
    // The request first, the close second: a crash in between leaves a request for an order
    // still open (the payment side then closes its trade early; harmless), never a closed order
    // whose payment side was not told.
    await closeRequests.add({ orderId: order.id }, { key: order.id });
    if (!orders.closeIfUnpaid(order.id, now())) return reply.code(409).send({ error: `order is ${order.status}` });
    log("order", `order ${order.id} closed by a person`);
    return orders.get(order.id);
  });

  app.post<{ Body: { eventId: string; orderId: string; outcome: "paid" | "closed"; amountCents: number } }>(
    "/payment-outcomes",
    {
      preHandler: auth.guard,
      schema: {
        body: {
          type: "object",
          required: ["eventId", "orderId", "outcome", "amountCents"],
          properties: {
            eventId: { type: "string", minLength: 1 },
            orderId: { type: "string", minLength: 1 },
            outcome: { enum: ["paid", "closed"] },
            amountCents: { type: "integer", minimum: 1 },
          },
        },
      },
    },
    async (request, reply) => {
      const order = orders.get(request.body.orderId);
      if (order && order.amountCents !== request.body.amountCents) {
        // Not this order's payment: refused (and retried, then dead-lettered) rather than applied.
        return reply
          .code(422)
          .send({ error: `amount ${request.body.amountCents} is not the order's ${order.amountCents}` });
      }
      const received = orders.applyOutcome(request.body, now());
      if (received.deliveries === 1)
        log("order", `order ${received.orderId}: payment ${received.outcome} → ${received.effect}`);
      return { ...received, refund: received.effect.startsWith("refund") };
    },
  );

  const url = await app.listen({ port: options.port, host: "127.0.0.1" });
  return {
    url,
    orders,
    timeoutMode: timeouts.mode,
    async close() {
      await app.close();
      await checkback.close();
      orders.close();
    },
  };
}
