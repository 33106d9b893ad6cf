import type { Added, AddOptions, BackoffOption, JobState } from "checkback";
import { JobNotFoundError } from "checkback";
import type { FastifyInstance } from "fastify";
import type { ServerContext } from "../context.js";
import {
  addedJobSchema,
  addJobBody,
  bulkAddBody,
  countsSchema,
  errorResponses,
  flowSchema,
  jobParams,
  jobSchema,
  keyParams,
  listQuery,
  pageSchema,
  queueParams,
  whenBody,
} from "../schemas.js";

interface AddBody extends AddOptions {
  payload: unknown;
  backoff?: BackoffOption;
}
type QueueParams = { queue: string };
type JobParams = { queue: string; id: string };
type KeyParams = { queue: string; key: string };
type WhenBody = { delay?: number | string; runAt?: number };

const tags = ["queues"];

/** Producing and inspecting jobs: add, bulk add, get, list, counts, cancel, reschedule. */
export async function queueRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const countAdded = (queue: string, added: Added<unknown>[]) => {
    for (const job of added) ctx.metrics.added.inc({ queue, outcome: job.outcome });
  };

  app.get(
    "/v1/queues",
    {
      config: { scope: "any" },
      schema: {
        tags,
        summary: "Queues that hold jobs (or are configured), with counts by state and flow control",
        response: {
          200: {
            type: "object",
            properties: {
              queues: {
                type: "array",
                items: {
                  type: "object",
                  properties: { name: { type: "string" }, counts: countsSchema, flow: flowSchema },
                },
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async () => {
      const names = await ctx.queueNames();
      const [counts, flows] = await Promise.all([
        Promise.all(names.map((name) => ctx.store.counts(name))),
        Promise.all(names.map((name) => ctx.store.flowSettings(name))),
      ]);
      return { queues: names.map((name, i) => ({ name, counts: counts[i], flow: flows[i] })) };
    },
  );

  app.post<{ Params: QueueParams; Body: AddBody }>(
    "/v1/queues/:queue/jobs",
    {
      config: { scope: "produce" },
      schema: {
        tags,
        summary: "Add a job (201), or get the unfinished job already holding its key (200, outcome existing)",
        params: queueParams,
        body: addJobBody,
        response: { 200: addedJobSchema, 201: addedJobSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { queue } = request.params;
      const { payload, ...options } = request.body;
      const added = await ctx.queue(queue).add(payload, options);
      countAdded(queue, [added]);
      return reply.code(added.outcome === "created" ? 201 : 200).send(added);
    },
  );

  app.post<{ Params: QueueParams; Body: { jobs: AddBody[] } }>(
    "/v1/queues/:queue/jobs/bulk",
    {
      config: { scope: "produce" },
      schema: {
        tags,
        summary: "Add several jobs atomically: all of them or none",
        params: queueParams,
        body: bulkAddBody,
        response: {
          201: { type: "object", properties: { jobs: { type: "array", items: addedJobSchema } } },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { queue } = request.params;
      const items = request.body.jobs.map(({ payload, ...options }) => ({ payload, options }));
      const jobs = await ctx.queue(queue).addBulk(items);
      countAdded(queue, jobs);
      return reply.code(201).send({ jobs });
    },
  );

  app.get<{ Params: QueueParams; Querystring: { state: JobState; limit: number; cursor?: string } }>(
    "/v1/queues/:queue/jobs",
    {
      config: { scope: "any" },
      schema: {
        tags,
        summary: "Jobs in one state, oldest first, a page at a time",
        params: queueParams,
        querystring: listQuery,
        response: { 200: pageSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { state, limit, cursor } = request.query;
      return ctx.queue(request.params.queue).list(state, { limit, cursor: cursor ?? null });
    },
  );

  app.get<{ Params: QueueParams }>(
    "/v1/queues/:queue/counts",
    {
      config: { scope: "any" },
      schema: {
        tags,
        summary: "Job counts by state (zeros for a queue with no jobs)",
        params: queueParams,
        response: { 200: countsSchema, ...errorResponses },
      },
    },
    async (request) => ctx.queue(request.params.queue).counts(),
  );

  app.get<{ Params: JobParams }>(
    "/v1/queues/:queue/jobs/:id",
    {
      config: { scope: "any" },
      schema: { tags, summary: "One job by id", params: jobParams, response: { 200: jobSchema, ...errorResponses } },
    },
    async (request) => {
      const { queue, id } = request.params;
      const job = await ctx.queue(queue).get(id);
      if (!job) throw new JobNotFoundError(`id ${id}`);
      return job;
    },
  );

  app.get<{ Params: KeyParams }>(
    "/v1/queues/:queue/keys/:key",
    {
      config: { scope: "any" },
      schema: {
        tags,
        summary: "The unfinished job holding a key, else the newest finished one still kept",
        params: keyParams,
        response: { 200: jobSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { queue, key } = request.params;
      const job = await ctx.queue(queue).get({ key });
      if (!job) throw new JobNotFoundError(`key ${JSON.stringify(key)}`);
      return job;
    },
  );

  const cancelResponse = {
    200: { type: "object", properties: { cancelled: { type: "boolean" } } },
    ...errorResponses,
  };

  app.delete<{ Params: JobParams }>(
    "/v1/queues/:queue/jobs/:id",
    {
      config: { scope: "produce" },
      schema: {
        tags,
        summary: "Cancel a scheduled or active job; cancelled: false if it had already finished",
        params: jobParams,
        response: cancelResponse,
      },
    },
    async (request) => ({ cancelled: await ctx.queue(request.params.queue).cancel(request.params.id) }),
  );

  app.delete<{ Params: KeyParams }>(
    "/v1/queues/:queue/keys/:key",
    {
      config: { scope: "produce" },
      schema: { tags, summary: "Cancel the job holding a key", params: keyParams, response: cancelResponse },
    },
    async (request) => ({ cancelled: await ctx.queue(request.params.queue).cancel({ key: request.params.key }) }),
  );

  app.post<{ Params: JobParams; Body: WhenBody }>(
    "/v1/queues/:queue/jobs/:id/reschedule",
    {
      config: { scope: "produce", optionalBody: true },
      schema: {
        tags,
        summary: "Move a scheduled job to a new due time ({ delay } or { runAt }; nothing means now)",
        params: jobParams,
        body: whenBody,
        response: { 200: jobSchema, ...errorResponses },
      },
    },
    async (request) => ctx.queue(request.params.queue).reschedule(request.params.id, request.body),
  );

  app.post<{ Params: KeyParams; Body: WhenBody }>(
    "/v1/queues/:queue/keys/:key/reschedule",
    {
      config: { scope: "produce", optionalBody: true },
      schema: {
        tags,
        summary: "Move the scheduled job holding a key to a new due time",
        params: keyParams,
        body: whenBody,
        response: { 200: jobSchema, ...errorResponses },
      },
    },
    async (request) => ctx.queue(request.params.queue).reschedule({ key: request.params.key }, request.body),
  );
}
