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
import { type PgContext, type Queryable, run, type SchemaSql } from "../context.js";
import { type DefaultsRow, defaultGroupLimits } from "./groups.js";

/**
 * A queue's rate limit and pause (flow/rate-limit.ts): one row of queue_flow per queue that has
 * either. A claim of a queue without a row pays one primary-key probe inside its one statement;
 * a queue with a row is claimed in a transaction that locks the row, claims what it allows and
 * charges it (claim-due.ts).
 */
interface FlowRow {
  now: string;
  rate: number | null;
  per_ms: string | null;
  tokens: number | null;
  refilled_at: string | null;
  paused_until: string | null;
}

const LOCK = ({ schema, now }: SchemaSql) => `
  SELECT ${now} AS now, f.rate, f.per_ms, f.tokens, f.refilled_at, f.paused_until
  FROM ${schema}.queue_flow f WHERE f.queue = $1
  FOR UPDATE`;
const READ = ({ schema, now }: SchemaSql) => `
  SELECT ${now} AS now, f.rate, f.per_ms, f.tokens, f.refilled_at, f.paused_until,
    d.queue IS NOT NULL AS has_defaults, d.concurrency AS default_concurrency, d.rate AS default_rate,
    d.per_ms AS default_per_ms
  FROM (SELECT 1) one LEFT JOIN ${schema}.queue_flow f ON f.queue = $1
    LEFT JOIN ${schema}.group_defaults d ON d.queue = $1`;
const UPSERT = ({ schema }: SchemaSql) => `
  INSERT INTO ${schema}.queue_flow (queue, rate, per_ms, tokens, refilled_at, paused_until) VALUES ($1, $2, $3, $4, $5, $6)
  ON CONFLICT (queue) DO UPDATE SET rate = excluded.rate, per_ms = excluded.per_ms, tokens = excluded.tokens,
    refilled_at = excluded.refilled_at, paused_until = excluded.paused_until`;
const DELETE = ({ schema }: SchemaSql) => `DELETE FROM ${schema}.queue_flow WHERE queue = $1`;

/** The queue's bucket, locked until the transaction ends, and the server's clock. */
export async function lockBucket(
  db: Queryable,
  ctx: PgContext,
  queue: string,
): Promise<{ bucket: Bucket | null; now: number }> {
  const [row] = await run<FlowRow>(db, ctx.sql, LOCK, [queue]);
  return toBucket(row ?? (await run<FlowRow>(db, ctx.sql, READ, [queue]))[0]!);
}

export async function saveBucket(db: Queryable, ctx: PgContext, queue: string, bucket: Bucket | null): Promise<void> {
  if (!bucket) {
    await run(db, ctx.sql, DELETE, [queue]);
    return;
  }
  await run(db, ctx.sql, UPSERT, [
    queue,
    bucket.limit?.rate ?? null,
    bucket.limit?.perMs ?? null,
    bucket.tokens,
    bucket.refilledAt,
    bucket.pausedUntil,
  ]);
}

function toBucket(row: FlowRow): { bucket: Bucket | null; now: number } {
  const now = Number(row.now);
  if (row.tokens === null || row.refilled_at === null) return { bucket: null, now };
  return {
    now,
    bucket: {
      limit: row.rate === null || row.per_ms === null ? null : { rate: row.rate, perMs: Number(row.per_ms) },
      tokens: row.tokens,
      refilledAt: Number(row.refilled_at),
      pausedUntil: row.paused_until === null ? null : Number(row.paused_until),
    },
  };
}

async function change(ctx: PgContext, queue: string, next: (bucket: Bucket | null, now: number) => Bucket | null) {
  await ctx.transaction(async (db) => {
    const { bucket, now } = await lockBucket(db, ctx, queue);
    await saveBucket(db, ctx, queue, next(bucket, now));
  });
}

export function setRateLimit(ctx: PgContext, queue: string, limit: RateLimit | null): Promise<void> {
  return change(ctx, queue, (bucket, now) => withLimit(bucket, limit, now));
}

export function pauseQueue(ctx: PgContext, queue: string, until: When | null): Promise<void> {
  return change(ctx, queue, (bucket, now) => withPause(bucket, until && resolveWhen(until, now), now));
}

export async function readFlowSettings(ctx: PgContext, queue: string): Promise<FlowSettings> {
  const [row] = await run<FlowRow & DefaultsRow>(ctx.db, ctx.sql, READ, [queue]);
  const { bucket, now } = toBucket(row!);
  return flowSettings(bucket, now, defaultGroupLimits(row!));
}
