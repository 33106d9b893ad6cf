import type { JobRecord } from "checkback";
import { invalidOption, LeaseLostError, parseDuration } from "checkback";
import { decideOutcome, releaseJob, serializePayload } from "checkback/internal";
import type { ServerContext } from "../context.js";

const MIN_LEASE_MS = 1_000;

/** A lease as sent (a duration), at least MIN_LEASE_MS. */
export function leaseOf(lease: number | string): number {
  const leaseMs = parseDuration(lease, "lease");
  if (leaseMs < MIN_LEASE_MS) throw invalidOption(`lease must be at least ${MIN_LEASE_MS}ms`);
  return leaseMs;
}

/**
 * Each way to settle one claimed job, with its metrics, the same whether the job comes alone or
 * in a batch: the single routes (pull.ts) answer a refusal with its status, the batch routes
 * (pull-batch.ts) per item. A refused one throws (LEASE_LOST…) and changes nothing.
 */
export interface Settle {
  complete(queue: string, id: string, leaseToken: string, result: unknown): Promise<void>;
  fail(
    queue: string,
    id: string,
    leaseToken: string,
    error: string,
  ): Promise<{ job: JobRecord; retryAt: number | null }>;
  extend(queue: string, id: string, leaseToken: string, leaseMs: number): Promise<number>;
  /**
   * With `pauseQueue` the queue, with `pauseGroup` the job's group, is paused until the job is
   * due again (the other side said slow down).
   */
  release(queue: string, id: string, leaseToken: string, delayMs: number, pause?: Pauses): Promise<void>;
  /** Keeps the queue's completed jobs to the newest few, at most once a second. */
  trimCompleted(queue: string): void;
}

export interface Pauses {
  pauseQueue?: boolean;
  pauseGroup?: boolean;
}

export function settleOperations(
  ctx: ServerContext,
  processed: (queue: string, leaseToken: string, outcome: string) => void,
  trimCompleted: (queue: string) => void,
): Settle {
  return {
    async complete(queue, id, leaseToken, result) {
      const text = result === undefined ? null : serializePayload(result, ctx.config.maxPayloadBytes);
      await ctx.store.complete(queue, id, leaseToken, { result: text });
      ctx.metrics.completed.inc({ queue, delivery: "pull" });
      processed(queue, leaseToken, "completed");
    },
    async fail(queue, id, leaseToken, error) {
      // The back-off and attempts travel with the job: read them for the outcome rule.
      const record = await ctx.store.get(queue, id);
      if (record?.state !== "active" || record.leaseToken !== leaseToken) throw new LeaseLostError(id);
      const outcome = decideOutcome(record, { ok: false, error }, ctx.config.maxPayloadBytes);
      const after = await ctx.store.fail(queue, id, leaseToken, outcome);
      const exhausted = outcome.retryDelayMs === null;
      if (exhausted) ctx.metrics.deadLetters.inc({ queue, delivery: "pull" });
      else ctx.metrics.retries.inc({ queue, delivery: "pull" });
      processed(queue, leaseToken, "failed");
      return { job: after, retryAt: exhausted ? null : after.runAt };
    },
    extend(queue, id, leaseToken, leaseMs) {
      return ctx.store.extendLease(queue, id, leaseToken, leaseMs);
    },
    async release(queue, id, leaseToken, delayMs, pause = {}) {
      await releaseJob(ctx.store, queue, id, leaseToken, { delayMs, ...pause });
      processed(queue, leaseToken, "released");
    },
    trimCompleted,
  };
}
