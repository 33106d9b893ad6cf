// The README's example, runnable: `npx tsx examples/quickstart.ts` (the README imports "checkback").
import { createCheckback, later } from "checkback";

const cb = createCheckback({ store: process.env.CHECKBACK_STORE ?? "sqlite:./checkback.db" });
const orders = new Map([["A-1001", "UNPAID"]]); // stands in for your order table

// Producer: close the order if it is still unpaid 2 seconds from now (30 minutes in real life).
const closeUnpaid = cb.queue<{ orderId: string }>("close-unpaid-order");
await closeUnpaid.add({ orderId: "A-1001" }, { delay: "2s", key: "A-1001", attempts: 5, backoff: ["10s", "1m"] });
// Paid first? Then cancel by key: await closeUnpaid.cancel({ key: "A-1001" });

// Consumer: runs each job when it is due; a throw retries by the job's back-off, then dead-letters.
const worker = cb.worker<{ orderId: string }>("close-unpaid-order", async (job) => {
  const { orderId } = job.payload;
  if (orders.get(orderId) === "PAYING") return later("1m"); // not yet: come back, no attempt spent
  if (orders.get(orderId) === "UNPAID") orders.set(orderId, "CLOSED");
  console.log(
    `order ${orderId} is ${orders.get(orderId)}; the job ran ${job.startedAt - job.runAt} ms after its due time`,
  );
});
worker.once("completed", () => cb.close()); // close() finishes or hands back running jobs
