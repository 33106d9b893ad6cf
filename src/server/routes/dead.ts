import type { FastifyInstance } from "fastify";
import { invalidOption, JobNotFoundError } from "../../core/errors.js";
import type { ServerContext } from "../context.js";
import {
  errorResponses,
  jobParams,
  jobSchema,
  pageQuery,
  pageSchema,
  purgeBody,
  queueParams,
  redriveBody,
} from "../schemas.js";

type QueueParams = { queue: string };
type SelectionBody = { ids?: string[]; all?: true };
type RedriveBody = SelectionBody & { delay?: number | string; runAt?: number };

const tags = ["dead letters"];

/** Dead letters (admin): list, inspect, redrive (back to scheduled, attempts reset), purge. */
export async function deadRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.get<{ Params: QueueParams; Querystring: { limit: number; cursor?: string } }>(
    "/v1/queues/:queue/dead",
    {
      config: { scope: "admin" },
      schema: {
        tags,
        summary: "Dead jobs, oldest first, with their error history",
        params: queueParams,
        querystring: pageQuery,
        response: { 200: pageSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      return ctx.queue(request.params.queue).list("dead", { limit, cursor: cursor ?? null });
    },
  );

  app.get<{ Params: { queue: string; id: string } }>(
    "/v1/queues/:queue/dead/:id",
    {
      config: { scope: "admin" },
      schema: { tags, summary: "One dead job", params: jobParams, response: { 200: jobSchema, ...errorResponses } },
    },
    async (request) => {
      const { queue, id } = request.params;
      const job = await ctx.queue(queue).get(id);
      if (job?.state !== "dead") throw new JobNotFoundError(`dead job id ${id}`);
      return job;
    },
  );

  app.post<{ Params: QueueParams; Body: RedriveBody }>(
    "/v1/queues/:queue/dead/redrive",
    {
      config: { scope: "admin" },
      schema: {
        tags,
        summary: "Send dead jobs back to scheduled ({ ids } or { all: true }, optionally { delay } or { runAt })",
        params: queueParams,
        body: redriveBody,
        response: {
          200: { type: "object", properties: { redriven: { type: "integer" } } },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { ids, all, ...when } = request.body;
      return { redriven: await ctx.queue(request.params.queue).redrive(selectionOf(ids, all), when) };
    },
  );

  app.post<{ Params: QueueParams; Body: SelectionBody }>(
    "/v1/queues/:queue/dead/purge",
    {
      config: { scope: "admin" },
      schema: {
        tags,
        summary: "Delete dead jobs ({ ids } or { all: true })",
        params: queueParams,
        body: purgeBody,
        response: {
          200: { type: "object", properties: { purged: { type: "integer" } } },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { ids, all } = request.body;
      return { purged: await ctx.queue(request.params.queue).purge(selectionOf(ids, all), "dead") };
    },
  );
}

/** Exactly one of ids or all, so an empty body never means "everything". */
function selectionOf(ids: string[] | undefined, all: true | undefined): string[] | "all" {
  if (ids !== undefined && all !== undefined) throw invalidOption("give ids or all, not both");
  if (all) return "all";
  if (ids) return ids;
  throw invalidOption("say which jobs: { ids: [...] } or { all: true }");
}
