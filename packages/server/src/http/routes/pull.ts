import { invalidOption, parseDuration } from "checkback";
import type { ClaimResult } from "checkback/internal";
import { toJob } from "checkback/internal";
import type { FastifyInstance, FastifyReply } from "fastify";
import { claimWaiting } from "../claim-wait.js";
import type { ServerContext } from "../context.js";
import { claimedJobsJson } from "../job-json.js";
import {
  claimBody,
  claimedJobSchema,
  completeBody,
  errorResponses,
  extendBody,
  failBody,
  jobParams,
  jobSchema,
  queueParams,
  releaseBody,
} from "../schemas.js";
import { pullBatchRoutes } from "./pull-batch.js";
import { leaseOf, settleOperations } from "./settle.js";

type QueueParams = { queue: string };
type JobParams = { queue: string; id: string };
type Duration = number | string;

const tags = ["pull"];
/** Completed jobs kept per queue, like a library worker's default retention. */
const KEEP_COMPLETED = 1_000;
const TRIM_EVERY_MS = 1_000;
/** Claim times by lease token, for the processing-time metric; bounded so abandoned leases cannot grow it. */
const MAX_TRACKED_LEASES = 100_000;
const JSON_TYPE = "application/json; charset=utf-8";

/**
 * Pull delivery: claim due jobs under a lease (optionally waiting for one), then complete,
 * fail, extend or release each with its lease token. A stale leaseToken is 409 LEASE_LOST: the
 * lease ran out and someone else holds the job now, or it was cancelled.
 */
export async function pullRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const claimedAt = new Map<string, number>();
  const lastTrim = new Map<string, number>();

  const processed = (queue: string, leaseToken: string, outcome: string) => {
    const at = claimedAt.get(leaseToken);
    if (at === undefined) return;
    claimedAt.delete(leaseToken);
    ctx.metrics.processing.observe({ queue, delivery: "pull", outcome }, (performance.now() - at) / 1000);
  };

  /** Records lateness and claim times of claimed jobs, and writes the answer (job-json.ts). */
  const handOut = (queue: string, claimed: ClaimResult, reply: FastifyReply) => {
    const local = performance.now();
    if (claimed.jobs.length > 0) ctx.metrics.claimed.inc({ queue, delivery: "pull" }, claimed.jobs.length);
    for (const job of claimed.jobs) {
      ctx.metrics.observeLateness(queue, "pull", claimed.now - job.runAt);
      track(claimedAt, job.leaseToken!, local);
    }
    return reply.type(JSON_TYPE).send(claimedJobsJson(claimed.jobs));
  };

  const trimCompleted = (queue: string) => {
    const now = Date.now();
    if (now - (lastTrim.get(queue) ?? 0) < TRIM_EVERY_MS) return;
    lastTrim.set(queue, now);
    ctx.store.trim(queue, { keepLast: KEEP_COMPLETED }).catch((err) => app.log.warn({ err, queue }, "trim failed"));
  };

  const settle = settleOperations(ctx, processed, trimCompleted);

  app.post<{ Params: QueueParams; Body: { limit: number; lease: Duration; wait?: Duration } }>(
    "/v1/queues/:queue/claim",
    {
      config: { scope: "consume", optionalBody: true },
      schema: {
        tags,
        summary: "Claim up to `limit` due jobs under a lease; with `wait`, long-poll until one is due",
        params: queueParams,
        body: claimBody,
        response: {
          200: { type: "object", properties: { jobs: { type: "array", items: claimedJobSchema } } },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const queue = ctx.queueName(request.params.queue);
      const { limit } = request.body;
      const leaseMs = leaseOf(request.body.lease);
      const waitMs = request.body.wait === undefined ? 0 : parseDuration(request.body.wait, "wait");
      if (waitMs > ctx.config.maxWaitMs) throw invalidOption(`wait is at most ${ctx.config.maxWaitMs}ms`);

      if (waitMs === 0) {
        // No wait: one claim, nothing to subscribe to or abort.
        const claimed = await ctx.store.claimDue(queue, { limit, leaseMs });
        return handOut(queue, claimed, reply);
      }
      // Ends the wait early when the client leaves or the server begins to close.
      const stop = new AbortController();
      let clientLeft = false;
      const onClientClose = () => {
        if (reply.raw.writableFinished) return;
        clientLeft = true;
        stop.abort();
      };
      const onServerClosing = () => stop.abort();
      reply.raw.once("close", onClientClose);
      ctx.closing.addEventListener("abort", onServerClosing, { once: true });
      if (ctx.closing.aborted) stop.abort();
      let claimed: Awaited<ReturnType<typeof claimWaiting>>;
      try {
        claimed = await claimWaiting(ctx.store, queue, { limit, leaseMs }, waitMs, stop.signal);
      } finally {
        reply.raw.off("close", onClientClose);
        ctx.closing.removeEventListener("abort", onServerClosing);
      }
      if (clientLeft && claimed.jobs.length > 0) {
        // The client left while we claimed: give the jobs straight back rather than let their leases run out.
        await Promise.all(
          claimed.jobs.map((job) => ctx.store.release(queue, job.id, job.leaseToken!, { delayMs: 0 }).catch(() => {})),
        );
        return reply.code(499).send({ jobs: [] });
      }
      return handOut(queue, claimed, reply);
    },
  );

  app.post<{ Params: JobParams; Body: { leaseToken: string; result?: unknown } }>(
    "/v1/queues/:queue/jobs/:id/complete",
    {
      config: { scope: "consume" },
      schema: {
        tags,
        summary: "Complete a claimed job (with an optional JSON result)",
        params: jobParams,
        body: completeBody,
        response: {
          200: { type: "object", properties: { completed: { type: "boolean" } } },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const queue = ctx.queueName(request.params.queue);
      const { leaseToken, result } = request.body;
      await settle.complete(queue, request.params.id, leaseToken, result);
      trimCompleted(queue);
      return { completed: true };
    },
  );

  app.post<{ Params: JobParams; Body: { leaseToken: string; error: string } }>(
    "/v1/queues/:queue/jobs/:id/fail",
    {
      config: { scope: "consume" },
      schema: {
        tags,
        summary: "Record a failed attempt: retried after the job's back-off, or dead when attempts are used up",
        params: jobParams,
        body: failBody,
        response: {
          200: {
            type: "object",
            properties: { job: jobSchema, retryAt: { type: ["integer", "null"] } },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const queue = ctx.queueName(request.params.queue);
      const { job, retryAt } = await settle.fail(queue, request.params.id, request.body.leaseToken, request.body.error);
      return { job: toJob(job), retryAt };
    },
  );

  app.post<{ Params: JobParams; Body: { leaseToken: string; lease: Duration } }>(
    "/v1/queues/:queue/jobs/:id/extend",
    {
      config: { scope: "consume" },
      schema: {
        tags,
        summary: "Extend a claimed job's lease to now + lease (heartbeat)",
        params: jobParams,
        body: extendBody,
        response: {
          200: { type: "object", properties: { leaseExpiresAt: { type: "integer" } } },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const queue = ctx.queueName(request.params.queue);
      const leaseMs = leaseOf(request.body.lease);
      const leaseExpiresAt = await settle.extend(queue, request.params.id, request.body.leaseToken, leaseMs);
      return { leaseExpiresAt };
    },
  );

  app.post<{
    Params: JobParams;
    Body: { leaseToken: string; delay?: Duration; pauseQueue?: boolean; pauseGroup?: boolean };
  }>(
    "/v1/queues/:queue/jobs/:id/release",
    {
      config: { scope: "consume" },
      schema: {
        tags,
        summary:
          "Give a claimed job back without counting the attempt, due again after `delay`; with `pauseQueue` the queue, with `pauseGroup` the job's group, is paused until then too (the other side said slow down)",
        params: jobParams,
        body: releaseBody,
        response: {
          200: { type: "object", properties: { released: { type: "boolean" } } },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const queue = ctx.queueName(request.params.queue);
      const { leaseToken, pauseQueue = false, pauseGroup = false } = request.body;
      const delayMs = request.body.delay === undefined ? 0 : parseDuration(request.body.delay, "delay");
      await settle.release(queue, request.params.id, leaseToken, delayMs, { pauseQueue, pauseGroup });
      return { released: true };
    },
  );

  await pullBatchRoutes(app, ctx, settle);
}

function track(map: Map<string, number>, leaseToken: string, at: number): void {
  if (map.size >= MAX_TRACKED_LEASES) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
  map.set(leaseToken, at);
}
