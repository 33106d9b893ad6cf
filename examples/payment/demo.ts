/**
 * npm run demo — the three services on loopback with business time at 600× (a 30-minute order
 * timeout passes in 3 s), and the timeline of three orders: one paid, one abandoned, and one
 * paid at the last second for an order closed meanwhile, whose money goes back.
 * ORDER_TIMEOUT_MODE=scan finds timed-out orders by a scheduled scan instead of the delay queue.
 */

import { describeOrderTimeouts, parseOrderTimeoutMode } from "./order-service/timeouts.js";
import { formatOffset, Timeline } from "./shared/timeline.js";
import { waitFor } from "./shared/wait-for.js";
import { Shopper } from "./shopper.js";
import { startPaymentSystem } from "./system.js";

const SPEED = Number(process.env.SPEED ?? 600);
const WIDTH = { order: "order  ", payment: "payment", gateway: "gateway", shopper: "shopper" } as const;

let timeline: Timeline | undefined;
const system = await startPaymentSystem({
  speed: SPEED,
  orderTimeoutMode: parseOrderTimeoutMode(process.env.ORDER_TIMEOUT_MODE),
  log: (service, text) => timeline?.log(service, text),
});
timeline = new Timeline(system.clock, (event) =>
  console.log(`${formatOffset(event.at)}  ${WIDTH[event.service]}  ${event.text}`),
);

console.log(`Business time runs ${SPEED}× faster: one real second is ${formatOffset(SPEED * 1000).slice(1)} here.`);
console.log(`Order timeouts: ${describeOrderTimeouts(system.order.timeoutMode, system.clock)}.\n`);
const shopper = new Shopper(system.order.url, system.gateway.url);

// Alice pays two minutes after opening the cashier; her first notify gets lost on the way.
const alice = await shopper.placeOrder("Alice: a book", 8800);
const aliceTrade = await shopper.checkout(alice.payUrl);
await shopper.script(aliceTrade.outTradeNo, { pay: "2m", lostNotifies: 1 });
await shopper.openCashier(aliceTrade.cashierUrl);

// Bob opens the cashier and walks away.
const bob = await shopper.placeOrder("Bob: a lamp", 12900);
const bobTrade = await shopper.checkout(bob.payUrl);
await shopper.script(bobTrade.outTradeNo, { pay: "never" });
await shopper.openCashier(bobTrade.cashierUrl);

// Carol is at the cashier when she closes the order from her other tab (or customer service
// does: out of stock). Her payment, confirmed a moment before, lands just as the close reaches
// Alipay: the close is refused, the money is in, the order stays closed — so it goes back.
const carol = await shopper.placeOrder("Carol: a kettle", 4500);
const carolTrade = await shopper.checkout(carol.payUrl);
await shopper.script(carolTrade.outTradeNo, { pay: "at-close" });
await shopper.openCashier(carolTrade.cashierUrl);
await new Promise((resolve) => setTimeout(resolve, system.clock.real("3m")));
timeline.log("shopper", `closes order ${carol.orderId}`);
await shopper.cancel(carol.orderId);

const orders = system.order.orders;
const refunded = () => system.payment.payments.refundsFor(carolTrade.outTradeNo)[0]?.status === "DONE";
await waitFor(
  () => [orders.get(alice.orderId)?.status, orders.get(bob.orderId)?.status, refunded()],
  ([a, b, c]) => a === "PAID" && b === "CLOSED" && c === true,
  60_000,
);
// Let the last notify retries and the outbox settle before the summary.
await new Promise((resolve) => setTimeout(resolve, 200));

console.log("\nFinal states");
for (const [who, order, trade] of [
  ["Alice", alice, aliceTrade],
  ["Bob", bob, bobTrade],
  ["Carol", carol, carolTrade],
] as const) {
  const payment = system.payment.payments.get(trade.outTradeNo);
  const gatewayTrade = system.gateway.trades.get(trade.outTradeNo);
  const refund =
    gatewayTrade && gatewayTrade.refundedAmount !== "0.00" ? `, ¥${gatewayTrade.refundedAmount} refunded` : "";
  console.log(
    `  ${who.padEnd(6)} order ${orders.get(order.orderId)?.status.padEnd(7)} payment ${payment?.status.padEnd(7)} trade ${gatewayTrade?.status}${refund}`,
  );
}
await system.close();
