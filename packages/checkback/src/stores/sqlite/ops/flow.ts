import {
  type Bucket,
  type FlowSettings,
  flowSettings,
  type RateLimit,
  withLimit,
  withPause,
} from "../../../flow/rate-limit.js";
import { resolveWhen } from "../../new-job.js";
import type { When } from "../../store.js";
import type { SqliteContext } from "../context.js";
import { readGroupDefaults } from "./groups.js";

/**
 * A queue's rate limit and pause (flow/rate-limit.ts): one row of queue_flow per queue that has
 * either, read and charged by claimDue in its own transaction. A queue without one has no row,
 * and its claim pays one primary-key miss.
 */
interface FlowRow {
  rate: number | null;
  per_ms: number | null;
  tokens: number;
  refilled_at: number;
  paused_until: number | null;
}

const SELECT = `SELECT rate, per_ms, tokens, refilled_at, paused_until FROM queue_flow WHERE queue = ?`;
const UPSERT = `
  INSERT INTO queue_flow (queue, rate, per_ms, tokens, refilled_at, paused_until) VALUES (?, ?, ?, ?, ?, ?)
  ON CONFLICT (queue) DO UPDATE SET rate = excluded.rate, per_ms = excluded.per_ms, tokens = excluded.tokens,
    refilled_at = excluded.refilled_at, paused_until = excluded.paused_until`;
const DELETE = `DELETE FROM queue_flow WHERE queue = ?`;

export function readBucket(ctx: SqliteContext, queue: string): Bucket | null {
  const row = ctx.statement<FlowRow>(SELECT).get(queue);
  if (!row) return null;
  return {
    limit: row.rate === null || row.per_ms === null ? null : { rate: row.rate, perMs: row.per_ms },
    tokens: row.tokens,
    refilledAt: row.refilled_at,
    pausedUntil: row.paused_until,
  };
}

export function saveBucket(ctx: SqliteContext, queue: string, bucket: Bucket | null): void {
  if (!bucket) {
    ctx.statement(DELETE).run(queue);
    return;
  }
  ctx
    .statement(UPSERT)
    .run(
      queue,
      bucket.limit?.rate ?? null,
      bucket.limit?.perMs ?? null,
      bucket.tokens,
      bucket.refilledAt,
      bucket.pausedUntil,
    );
}

export function setRateLimit(ctx: SqliteContext, queue: string, limit: RateLimit | null, now: number): void {
  saveBucket(ctx, queue, withLimit(readBucket(ctx, queue), limit, now));
}

export function pauseQueue(ctx: SqliteContext, queue: string, until: When | null, now: number): void {
  saveBucket(ctx, queue, withPause(readBucket(ctx, queue), until && resolveWhen(until, now), now));
}

export function readFlowSettings(ctx: SqliteContext, queue: string, now: number): FlowSettings {
  return flowSettings(readBucket(ctx, queue), now, readGroupDefaults(ctx, queue));
}
