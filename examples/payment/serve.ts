/**
 * The three services, left running for you to click through:
 *
 *   npx tsx examples/payment/serve.ts             # real time
 *   SPEED=60 npx tsx examples/payment/serve.ts    # a minute per second
 *   ORDER_TIMEOUT_MODE=scan npx tsx examples/payment/serve.ts   # timeouts by a scan every 20 s
 *
 * Then create an order (the answer's payUrl opens the sandbox cashier in a browser):
 *
 *   curl -s -XPOST localhost:<order port>/orders -H 'content-type: application/json' \
 *        -d '{"subject":"a book","amountCents":8800}'
 */
import { describeOrderTimeouts, parseOrderTimeoutMode } from "./order-service/timeouts.js";
import { formatOffset } from "./shared/timeline.js";
import { startPaymentSystem } from "./system.js";

const speed = Number(process.env.SPEED ?? 1);
const startedAt = Date.now();
const system = await startPaymentSystem({
  speed,
  dataDir: process.env.DATA_DIR,
  orderTimeoutMode: parseOrderTimeoutMode(process.env.ORDER_TIMEOUT_MODE),
  log: (service, text) =>
    console.log(`${formatOffset((Date.now() - startedAt) * speed)}  ${service.padEnd(7)}  ${text}`),
});
console.log(`order service    ${system.order.url}   (POST /orders, GET /orders/:id)
payment service  ${system.payment.url}   (GET/POST /pay/:orderId, GET /payments/:outTradeNo, GET /alerts)
gateway sandbox  ${system.gateway.url}   (GET /sandbox/trades/:outTradeNo)
speed ${speed}×; order timeouts: ${describeOrderTimeouts(system.order.timeoutMode, system.clock)}; Ctrl-C stops`);

process.once("SIGINT", () => {
  void system.close().then(() => process.exit(0));
});
