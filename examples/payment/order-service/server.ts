import { join } from "node:path";
import { createCheckback, type Duration } from "checkback";
import Fastify from "fastify";
import type { SimClock } from "../shared/sim-clock.js";
import { type Log, silent } from "../shared/timeline.js";
import { OrderBook } from "./orders.js";

export interface OrderServiceOptions {
  dataDir: string;
  port: number;
  /** Where shoppers go to pay: `${paymentServiceUrl}/pay/:orderId`. */
  paymentServiceUrl: string;
  clock: SimClock;
  /** An order still unpaid this long after it was created is closed (default "30m"). */
  orderTimeout?: Duration;
  log?: Log;
}

export interface OrderService {
  url: string;
  orders: OrderBook;
  close(): Promise<void>;
}

/**
 * The order service: creates orders, closes those still unpaid at their timeout through the
 * delay queue, and marks them paid when the payment service hands on a "paid" outcome.
 */
export async function startOrderService(options: OrderServiceOptions): Promise<OrderService> {
  const { clock } = options;
  const log = options.log ?? silent;
  const orders = new OrderBook(join(options.dataDir, "orders.db"));
  const checkback = createCheckback({ store: `sqlite:${join(options.dataDir, "order-jobs.db")}` });
  const timeouts = checkback.queue<{ orderId: string }>("order-timeouts");
  checkback.worker<{ orderId: string }>("order-timeouts", ({ payload }) => {
    // Closing is conditional: an order paid in the meantime stays paid.
    const closed = orders.closeIfUnpaid(payload.orderId, clock.now().getTime());
    if (closed) log("order", `order ${payload.orderId} closed: unpaid at its timeout`);
  });

  const app = Fastify();

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
      // The timeout job first, the order second: a crash in between leaves a job that finds no
      // order (and does nothing), never an order that nothing will close.
      await timeouts.add({ orderId: id }, { key: id, delay: clock.real(options.orderTimeout ?? "30m") });
      const order = orders.insert({ id, ...request.body }, clock.now().getTime());
      log("order", `order ${id} created: ${order.subject}, ${order.amountCents} cents`);
      return reply.code(201).send({ order, payUrl: `${options.paymentServiceUrl}/pay/${id}` });
    },
  );

  app.get<{ Params: { id: string } }>("/orders/:id", async (request, reply) => {
    const order = orders.get(request.params.id);
    if (!order) return reply.code(404).send({ error: "no such order" });
    return { ...order, paymentOutcomes: orders.outcomesFor(order.id) };
  });

  app.post<{ Body: { eventId: string; orderId: string; outcome: "paid" | "closed" } }>(
    "/payment-outcomes",
    {
      schema: {
        body: {
          type: "object",
          required: ["eventId", "orderId", "outcome"],
          properties: {
            eventId: { type: "string", minLength: 1 },
            orderId: { type: "string", minLength: 1 },
            outcome: { enum: ["paid", "closed"] },
          },
        },
      },
    },
    async (request) => {
      const received = orders.applyOutcome(request.body, clock.now().getTime());
      if (received.deliveries === 1)
        log("order", `order ${received.orderId}: payment ${received.outcome} → ${received.effect}`);
      return received;
    },
  );

  const url = await app.listen({ port: options.port, host: "127.0.0.1" });
  return {
    url,
    orders,
    async close() {
      await app.close();
      await checkback.close();
      orders.close();
    },
  };
}
