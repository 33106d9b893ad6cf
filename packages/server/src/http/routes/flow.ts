import type { Duration, FlowSettings } from "checkback";
import type { FastifyInstance } from "fastify";
import type { ServerContext } from "../context.js";
import { errorResponses, flowSchema, limitBody, pauseBody, queueParams } from "../schemas.js";

type QueueParams = { queue: string };

const tags = ["flow"];

/**
 * A queue's rate limit and pause (docs/flow-control.md), kept by the store and shared by every
 * worker. Setting them needs the produce scope (admin has every scope): whoever adds a queue's
 * jobs decides how fast the other side may be called, and a pause is as reversible as a
 * reschedule. Reading them is open to any token.
 */
export async function flowRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const ok = { 200: flowSchema, ...errorResponses };

  app.get<{ Params: QueueParams }>(
    "/v1/queues/:queue/flow",
    {
      config: { scope: "any" },
      schema: {
        tags,
        summary: "The queue's rate limit, pause and the starts its bucket allows now",
        params: queueParams,
        response: ok,
      },
    },
    async (request) => ctx.queue(request.params.queue).flowSettings(),
  );

  app.put<{ Params: QueueParams; Body: { rate: number; per: Duration } }>(
    "/v1/queues/:queue/limit",
    {
      config: { scope: "produce" },
      schema: {
        tags,
        summary: "At most `rate` job starts per `per`, across every worker (a token bucket in the store)",
        params: queueParams,
        body: limitBody,
        response: ok,
      },
    },
    async (request) => settle(ctx, request.params.queue, (queue) => queue.limit(request.body)),
  );

  app.delete<{ Params: QueueParams }>(
    "/v1/queues/:queue/limit",
    {
      config: { scope: "produce" },
      schema: { tags, summary: "Lift the queue's rate limit", params: queueParams, response: ok },
    },
    async (request) => settle(ctx, request.params.queue, (queue) => queue.limit(null)),
  );

  app.post<{ Params: QueueParams; Body: { delay?: Duration; runAt?: number } }>(
    "/v1/queues/:queue/pause",
    {
      config: { scope: "produce", optionalBody: true },
      schema: {
        tags,
        summary: "Start none of the queue's jobs until `delay` from now or the instant `runAt`",
        params: queueParams,
        body: pauseBody,
        response: ok,
      },
    },
    async (request) => settle(ctx, request.params.queue, (queue) => queue.pause(request.body)),
  );

  app.post<{ Params: QueueParams }>(
    "/v1/queues/:queue/resume",
    {
      config: { scope: "produce", optionalBody: true },
      schema: { tags, summary: "Lift the queue's pause", params: queueParams, response: ok },
    },
    async (request) => settle(ctx, request.params.queue, (queue) => queue.resume()),
  );
}

/** Applies a change and answers the queue's flow settings as the store now keeps them. */
async function settle(
  ctx: ServerContext,
  name: string,
  change: (queue: ReturnType<ServerContext["queue"]>) => Promise<void>,
): Promise<FlowSettings> {
  const queue = ctx.queue(name);
  await change(queue);
  return queue.flowSettings();
}
