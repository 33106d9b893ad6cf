// Schedules, runnable: `npx tsx examples/schedule.ts` (a memory store unless CHECKBACK_STORE names one).
// A scan every 2 seconds over unpaid orders (every 20 s in the tutorial this comes from), and a
// nightly report at 02:30 Berlin time handed to a queue, where any consumer (HTTP pull or push,
// or a worker) gets each firing as an ordinary job.
import { createCheckback } from "checkback";

const cb = createCheckback({ store: process.env.CHECKBACK_STORE ?? "memory:" });
const orders = new Map([
  ["A-1001", { state: "UNPAID", createdAt: Date.now() - 3_000 }],
  ["A-1002", { state: "UNPAID", createdAt: Date.now() }],
]);

// Run in this process: the handler gets each firing, with the tick it stands for. Any number of
// processes may define the same schedule at start: it is stored once and each tick fires once.
let scans = 0;
await cb.schedule("unpaid-scan", { every: "2s", payload: { olderThanMs: 2_000 }, missed: "skip" }, async (job) => {
  const { tick, payload } = job.payload;
  for (const [id, order] of orders) {
    if (order.state === "UNPAID" && Date.parse(tick) - order.createdAt >= payload.olderThanMs) {
      order.state = "CLOSED";
      console.log(`scan at ${tick}: closed ${id}`);
    }
  }
  if (++scans === 3) setImmediate(finish);
});

// Durable and managed from anywhere: the definition lives in the store.
const nightly = await cb.schedules.define("nightly-report", {
  cron: "0 30 2 * * *",
  timezone: "Europe/Berlin",
  queue: "reports",
  payload: { report: "unpaid-orders" },
  missed: "latest",
});
console.log(
  `nightly-report ${nightly.outcome}; next firings:`,
  nightly.next.map((t) => new Date(t).toISOString()),
);
await cb.schedules.trigger("nightly-report"); // one firing now, besides the timetable
cb.worker("reports", (job) => console.log("report job", job.key, job.payload));

async function finish() {
  console.log(await cb.schedules.list({ next: 2 }));
  await cb.schedules.remove("nightly-report");
  await cb.schedules.remove("unpaid-scan");
  await cb.close();
}
