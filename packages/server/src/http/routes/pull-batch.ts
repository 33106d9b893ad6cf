import { CheckbackError, parseDuration } from "checkback";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import type { ServerContext } from "../context.js";
import {
  batchResultsSchema,
  completeManyBody,
  errorResponses,
  extendManyBody,
  failManyBody,
  queueParams,
  releaseManyBody,
} from "../schemas.js";
import { leaseOf, type Settle } from "./settle.js";

type QueueParams = { queue: string };
type Duration = number | string;
interface Item {
  id: string;
  leaseToken: string;
}

/** Items of one batch settled at once, at most this many in flight (keeps a store's pool free for other requests). */
const ITEMS_IN_FLIGHT = 64;

export type ItemResult = { id: string; ok: true; [extra: string]: unknown } | { id: string; error: ItemError };
interface ItemError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/**
 * Settling many claimed jobs in one call: complete, fail, extend or release up to 1000 jobs of
 * one queue. The request as a whole is checked first (schema, queue, lease or delay: 400 and
 * nothing done); then each item is settled on its own, exactly as the single route would, and
 * answered in `results` in the order sent — `{ id, ok: true, … }` or `{ id, error: { code,
 * message } }` with the code the single route would have answered (LEASE_LOST…). The answer is
 * 200 even when some or all items were refused; a refused item changes nothing.
 */
export async function pullBatchRoutes(app: FastifyInstance, ctx: ServerContext, settle: Settle): Promise<void> {
  const tags = ["pull"];

  app.post<{ Params: QueueParams; Body: { jobs: (Item & { result?: unknown })[] } }>(
    "/v1/queues/:queue/jobs/complete",
    {
      config: { scope: "consume" },
      schema: {
        tags,
        summary: "Complete many claimed jobs (each with an optional JSON result); each item answered on its own",
        params: queueParams,
        body: completeManyBody,
        response: { 200: batchResultsSchema(), ...errorResponses },
      },
    },
    async (request) => {
      const queue = ctx.queueName(request.params.queue);
      const results = await eachItem(request.body.jobs, request.log, async (item) => {
        await settle.complete(queue, item.id, item.leaseToken, item.result);
        return {};
      });
      settle.trimCompleted(queue);
      return { results };
    },
  );

  app.post<{ Params: QueueParams; Body: { jobs: (Item & { error: string })[] } }>(
    "/v1/queues/:queue/jobs/fail",
    {
      config: { scope: "consume" },
      schema: {
        tags,
        summary:
          "Record a failed attempt for many claimed jobs: each retried after its back-off (`retryAt`) or dead (`retryAt: null`)",
        params: queueParams,
        body: failManyBody,
        response: { 200: batchResultsSchema({ retryAt: { type: ["integer", "null"] } }), ...errorResponses },
      },
    },
    async (request) => {
      const queue = ctx.queueName(request.params.queue);
      const results = await eachItem(request.body.jobs, request.log, async (item) => {
        const { retryAt } = await settle.fail(queue, item.id, item.leaseToken, item.error);
        return { retryAt };
      });
      return { results };
    },
  );

  app.post<{ Params: QueueParams; Body: { jobs: Item[]; lease: Duration } }>(
    "/v1/queues/:queue/jobs/extend",
    {
      config: { scope: "consume" },
      schema: {
        tags,
        summary: "Extend the leases of many claimed jobs to now + lease (heartbeat)",
        params: queueParams,
        body: extendManyBody,
        response: { 200: batchResultsSchema({ leaseExpiresAt: { type: "integer" } }), ...errorResponses },
      },
    },
    async (request) => {
      const queue = ctx.queueName(request.params.queue);
      const leaseMs = leaseOf(request.body.lease);
      const results = await eachItem(request.body.jobs, request.log, async (item) => ({
        leaseExpiresAt: await settle.extend(queue, item.id, item.leaseToken, leaseMs),
      }));
      return { results };
    },
  );

  app.post<{
    Params: QueueParams;
    Body: { jobs: Item[]; delay?: Duration; pauseQueue?: boolean; pauseGroup?: boolean };
  }>(
    "/v1/queues/:queue/jobs/release",
    {
      config: { scope: "consume" },
      schema: {
        tags,
        summary:
          "Give many claimed jobs back without counting their attempts, due again after `delay`; with `pauseQueue` the queue, with `pauseGroup` each job's group, is paused until then too",
        params: queueParams,
        body: releaseManyBody,
        response: { 200: batchResultsSchema(), ...errorResponses },
      },
    },
    async (request) => {
      const queue = ctx.queueName(request.params.queue);
      const { delay, pauseQueue = false, pauseGroup = false } = request.body;
      const delayMs = delay === undefined ? 0 : parseDuration(delay, "delay");
      // As on the single route, per item: a pause that cannot be kept (a group pause for a job
      // without a group) is that item's error, and the item keeps its lease.
      const results = await eachItem(request.body.jobs, request.log, async (item) => {
        await settle.release(queue, item.id, item.leaseToken, delayMs, { pauseQueue, pauseGroup });
        return {};
      });
      return { results };
    },
  );
}

/**
 * Runs `settleOne` for every item, ITEMS_IN_FLIGHT at a time, and answers each in order. A
 * library error (LEASE_LOST, PAYLOAD_TOO_LARGE, STORE_UNAVAILABLE…) becomes that item's error;
 * anything else is a fault, logged and answered as INTERNAL for that item alone.
 */
async function eachItem<T extends Item>(
  items: T[],
  log: FastifyBaseLogger,
  settleOne: (item: T) => Promise<Record<string, unknown>>,
): Promise<ItemResult[]> {
  const results: ItemResult[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      const item = items[index]!;
      try {
        results[index] = { id: item.id, ok: true, ...(await settleOne(item)) };
      } catch (error) {
        results[index] = { id: item.id, error: itemError(error, log) };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(ITEMS_IN_FLIGHT, items.length) }, lane));
  return results;
}

function itemError(error: unknown, log: FastifyBaseLogger): ItemError {
  if (error instanceof CheckbackError) {
    return error.details === undefined
      ? { code: error.code, message: error.message }
      : { code: error.code, message: error.message, details: error.details };
  }
  log.error({ err: error }, "settling a batch item failed");
  return { code: "INTERNAL", message: "internal error" };
}
