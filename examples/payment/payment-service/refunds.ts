import type { Checkback, Queue } from "checkback";
import { formatAmount } from "../shared/money.js";
import type { SimClock } from "../shared/sim-clock.js";
import type { Log } from "../shared/timeline.js";
import type { AlipayClient } from "./alipay-client.js";
import type { PaymentBook, RefundRow } from "./payments.js";

export const REFUND_QUEUE = "payment-refunds";

/**
 * Gives money back. A refund is a row in the payment database first (written with the reason
 * it is due, in the same transaction) and a durable job second: the job calls
 * alipay.trade.refund with the row's out_request_no until Alipay says refunded, retrying with
 * back-off. A repeat is harmless at both ends: the row's key and Alipay's out_request_no. A job
 * that uses up its attempts goes dead, the row turns FAILED with an alert, and a person
 * redrives it (`redrive`, POST /refunds/redrive) once the cause is fixed.
 */
export class RefundDesk {
  private readonly queue: Queue<{ outRequestNo: string }>;

  constructor(
    checkback: Checkback,
    private readonly payments: PaymentBook,
    private readonly alipay: AlipayClient,
    private readonly clock: SimClock,
    private readonly log: Log,
    attempts = 30,
  ) {
    this.queue = checkback.queue(REFUND_QUEUE, {
      attempts,
      backoff: { type: "exponential", delay: clock.real("30s"), max: clock.real("30m"), jitter: 0.2 },
    });
    const worker = checkback.worker<{ outRequestNo: string }>(
      REFUND_QUEUE,
      (job) => this.send(job.payload.outRequestNo),
      {
        concurrency: 10,
      },
    );
    worker.on("dead", (job, error) => {
      const refund = this.payments.refund(job.payload.outRequestNo);
      if (!refund) return;
      this.payments.setRefundStatus(refund.outRequestNo, "FAILED", this.now());
      this.payments.alert(
        refund.outTradeNo,
        "refund-failed",
        `refund ${refund.outRequestNo} failed: ${error.message}; redrive it`,
        this.now(),
      );
      this.log("payment", `ALERT refund ${refund.outRequestNo} failed for good: ${error.message}`);
    });
  }

  /** Queues the pending refunds: one payment's, or all (at startup and from the reconciliation). */
  async flush(outTradeNo?: string): Promise<void> {
    const pending = this.payments
      .refundsIn("PENDING")
      .filter((r) => outTradeNo === undefined || r.outTradeNo === outTradeNo);
    for (const refund of pending)
      await this.queue.add({ outRequestNo: refund.outRequestNo }, { key: refund.outRequestNo });
  }

  /** A person's "try again": the FAILED refunds back to PENDING, their dead jobs redriven. */
  async redrive(): Promise<number> {
    const failed = this.payments.refundsIn("FAILED");
    for (const refund of failed) this.payments.setRefundStatus(refund.outRequestNo, "PENDING", this.now());
    const redriven = await this.queue.redrive("all");
    await this.flush();
    return Math.max(redriven, failed.length);
  }

  /** Asks Alipay whether a refund went through and records it: the reconciliation's question. */
  async confirm(refund: RefundRow): Promise<boolean> {
    if (!(await this.alipay.refunded(refund.outTradeNo, refund.outRequestNo))) return false;
    this.payments.setRefundStatus(refund.outRequestNo, "DONE", this.now());
    return true;
  }

  private async send(outRequestNo: string): Promise<void> {
    const refund = this.payments.refund(outRequestNo);
    if (!refund || refund.status === "DONE") return;
    const answer = await this.alipay.refund(refund.outTradeNo, formatAmount(refund.amountCents), outRequestNo);
    // Refused (not paid, past the refund period…): retrying will not help soon, but the job
    // still retries with back-off and goes dead with the reason for a person to see.
    if (answer.state === "refused") throw new Error(`Alipay refused the refund: ${answer.why}`);
    this.payments.setRefundStatus(outRequestNo, "DONE", this.now());
    this.log(
      "payment",
      `refund ${outRequestNo}: ¥${formatAmount(refund.amountCents)} back to the shopper${answer.fundChange === "N" ? " (already refunded)" : ""}`,
    );
  }

  private now(): number {
    return this.clock.now().getTime();
  }
}
