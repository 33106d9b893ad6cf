import { invalidOption, JobNotFoundError } from "checkback";
import type { FastifyInstance, FastifyRequest } from "fastify";
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

type SelectionBody = { ids?: string[]; all?: true };
type RedriveBody = SelectionBody & { delay?: number | string; runAt?: number };

/** Where one family of dead-letter routes lives and how it finds its queue. */
export interface DeadLetterFamily {
  tags: string[];
  /** Paths of the list, one job (with :id), redrive and purge routes. */
  paths: { list: string; one: string; redrive: string; purge: string };
  params: object;
  oneParams: object;
  /** The queue a request names (throws the family's typed not-found error). */
  queueOf(request: FastifyRequest): string;
}

/** Dead letters of ordinary queues (admin). A check's are under /v1/checks (routes/checks.ts). */
export async function deadRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  deadLetterRoutes(app, ctx, {
    tags: ["dead letters"],
    paths: {
      list: "/v1/queues/:queue/dead",
      one: "/v1/queues/:queue/dead/:id",
      redrive: "/v1/queues/:queue/dead/redrive",
      purge: "/v1/queues/:queue/dead/purge",
    },
    params: queueParams,
    oneParams: jobParams,
    queueOf: (request) => ctx.queueName((request.params as { queue: string }).queue),
  });
}

/** List, inspect, redrive (back to scheduled, attempts reset) and purge dead jobs: admin only. */
export function deadLetterRoutes(app: FastifyInstance, ctx: ServerContext, family: DeadLetterFamily): void {
  const { tags, paths, params, oneParams, queueOf } = family;

  app.get<{ Querystring: { limit: number; cursor?: string } }>(
    paths.list,
    {
      config: { scope: "admin" },
      schema: {
        tags,
        summary: "Dead jobs, oldest first, with their error history",
        params,
        querystring: pageQuery,
        response: { 200: pageSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      return ctx.checkback.queue(queueOf(request)).list("dead", { limit, cursor: cursor ?? null });
    },
  );

  app.get<{ Params: { id: string } }>(
    paths.one,
    {
      config: { scope: "admin" },
      schema: { tags, summary: "One dead job", params: oneParams, response: { 200: jobSchema, ...errorResponses } },
    },
    async (request) => {
      const { id } = request.params;
      const job = await ctx.checkback.queue(queueOf(request)).get(id);
      if (job?.state !== "dead") throw new JobNotFoundError(`dead job id ${id}`);
      return job;
    },
  );

  app.post<{ Body: RedriveBody }>(
    paths.redrive,
    {
      config: { scope: "admin" },
      schema: {
        tags,
        summary: "Send dead jobs back to scheduled ({ ids } or { all: true }, optionally { delay } or { runAt })",
        params,
        body: redriveBody,
        response: {
          200: { type: "object", properties: { redriven: { type: "integer" } } },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { ids, all, ...when } = request.body;
      return { redriven: await ctx.checkback.queue(queueOf(request)).redrive(selectionOf(ids, all), when) };
    },
  );

  app.post<{ Body: SelectionBody }>(
    paths.purge,
    {
      config: { scope: "admin" },
      schema: {
        tags,
        summary: "Delete dead jobs ({ ids } or { all: true })",
        params,
        body: purgeBody,
        response: {
          200: { type: "object", properties: { purged: { type: "integer" } } },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { ids, all } = request.body;
      return { purged: await ctx.checkback.queue(queueOf(request)).purge(selectionOf(ids, all), "dead") };
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
