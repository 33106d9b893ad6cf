import type { Checkback, Queue } from "checkback";
import type { SimClock } from "../shared/sim-clock.js";
import type { Log } from "../shared/timeline.js";
import type { PaymentBook } from "./payments.js";

/**
 * Carries outbox rows to the order service. Each undelivered row becomes a job on a delay
 * queue (keyed by the row, so queueing it twice is harmless) that POSTs the outcome and marks
 * the row delivered; a refused or failed POST is retried with back-off until the order service
 * takes it. The order service dedupes by eventId, so a delivery repeated after a crash (posted,
 * not yet marked) changes nothing there.
 */
export class OutboxRelay {
  private readonly queue: Queue<{ outboxId: number }>;

  constructor(
    checkback: Checkback,
    private readonly payments: PaymentBook,
    private readonly orderServiceUrl: string,
    private readonly clock: SimClock,
    private readonly log: Log,
  ) {
    this.queue = checkback.queue("payment-outbox", {
      attempts: 100,
      backoff: { type: "exponential", delay: clock.real("5s"), max: clock.real("10m"), jitter: 0.2 },
    });
    checkback.worker<{ outboxId: number }>("payment-outbox", (job) => this.deliver(job.payload.outboxId));
  }

  /** Queues every undelivered outcome: one payment's, or all of them (at startup). */
  async flush(outTradeNo?: string): Promise<void> {
    for (const row of this.payments.undelivered(outTradeNo)) {
      await this.queue.add({ outboxId: row.id }, { key: `outbox:${row.id}` });
    }
  }

  private async deliver(outboxId: number): Promise<void> {
    const row = this.payments.outboxRow(outboxId);
    if (!row || row.deliveredAt !== null) return;
    const response = await fetch(`${this.orderServiceUrl}/payment-outcomes`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(row.body),
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new Error(`order service answered ${response.status} to ${row.body.eventId}`);
    this.payments.markDelivered(outboxId, this.clock.now().getTime());
    this.log("payment", `handed "${row.body.outcome}" for ${row.outTradeNo} to the order service`);
  }
}
