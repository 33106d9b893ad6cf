import type { Checkback, Queue } from "checkback";
import type { ServiceAuth } from "../shared/service-auth.js";
import type { SimClock } from "../shared/sim-clock.js";
import type { Log } from "../shared/timeline.js";
import type { PaymentBook } from "./payments.js";
import type { RefundDesk } from "./refunds.js";

/** What the order service answers to an outcome: a paid outcome for an order closed anyway asks for a refund. */
export interface OutcomeReceipt {
  effect: string;
  refund?: boolean;
}

/**
 * Carries outbox rows to the order service. Each undelivered row becomes a job on a delay
 * queue (keyed by the row, so queueing it twice is harmless) that POSTs the outcome (signed)
 * and marks the row delivered; a refused or failed POST is retried with back-off until the
 * order service takes it. The order service applies an outcome once per eventId, so a delivery
 * repeated after a crash (posted, not yet marked) changes nothing there. If the order was closed
 * anyway (a person closed it while the shopper paid), the answer asks for the money back, and
 * the refund is recorded in the same transaction as the delivery.
 */
export class OutboxRelay {
  private readonly queue: Queue<{ outboxId: number }>;

  constructor(
    checkback: Checkback,
    private readonly payments: PaymentBook,
    private readonly refunds: RefundDesk,
    private readonly orderServiceUrl: string,
    private readonly auth: ServiceAuth,
    private readonly clock: SimClock,
    private readonly log: Log,
  ) {
    this.queue = checkback.queue("payment-outbox", {
      attempts: 100,
      backoff: { type: "exponential", delay: clock.real("5s"), max: clock.real("10m"), jitter: 0.2 },
    });
    checkback.worker<{ outboxId: number }>("payment-outbox", (job) => this.deliver(job.payload.outboxId), {
      concurrency: 10,
    });
  }

  /** Queues every undelivered outcome: one payment's, or all of them (at startup). */
  async flush(outTradeNo?: string): Promise<void> {
    for (const row of this.payments.undelivered(outTradeNo)) {
      await this.queue.add({ outboxId: row.id }, { key: `outbox:${row.id}` });
    }
  }

  /** Delivers one payment's outcome right now if it is still undelivered; false if the order service did not take it. */
  async deliverNow(outTradeNo: string): Promise<boolean> {
    for (const row of this.payments.undelivered(outTradeNo)) {
      try {
        await this.deliver(row.id);
      } catch {
        return false;
      }
    }
    return true;
  }

  private async deliver(outboxId: number): Promise<void> {
    const row = this.payments.outboxRow(outboxId);
    if (!row || row.deliveredAt !== null) return;
    const response = await this.auth.fetch(`${this.orderServiceUrl}/payment-outcomes`, { body: row.body });
    if (!response.ok) throw new Error(`order service answered ${response.status} to ${row.body.eventId}`);
    const receipt = (await response.json()) as OutcomeReceipt;
    this.payments.markDelivered(outboxId, this.clock.now().getTime(), receipt.refund ? receipt.effect : undefined);
    this.log("payment", `handed "${row.body.outcome}" for ${row.outTradeNo} to the order service`);
    if (receipt.refund) await this.refunds.flush(row.outTradeNo);
  }
}
