import { type ScheduleDefinition, ScheduleNotFoundError } from "checkback";
import { MAX_SCHEDULE_NAME_LENGTH, NAME_PATTERN } from "checkback/internal";
import type { FastifyInstance } from "fastify";
import type { ServerContext } from "../context.js";
import { addedJobSchema, errorResponses } from "../schemas.js";

const tags = ["schedules"];
const instant = { type: "integer", description: "epoch milliseconds" } as const;

const nameParams = {
  type: "object",
  required: ["name"],
  properties: {
    name: {
      type: "string",
      minLength: 1,
      maxLength: MAX_SCHEDULE_NAME_LENGTH,
      pattern: NAME_PATTERN,
      description: "schedule name: letters, digits, _ . : -, not only dots",
    },
  },
} as const;

const nextQuery = {
  type: "object",
  additionalProperties: false,
  properties: { next: { type: "integer", minimum: 0, maximum: 100, default: 5, description: "next firings to show" } },
} as const;

const defineBody = {
  type: "object",
  required: ["queue"],
  additionalProperties: false,
  properties: {
    cron: {
      type: "string",
      minLength: 1,
      maxLength: 256,
      description: 'a cron expression: 5 fields, 6 (seconds first) or 7 (with a year), e.g. "0 30 2 * * *"',
    },
    timezone: {
      type: "string",
      minLength: 1,
      maxLength: 64,
      description: "IANA time zone of the cron expression (default UTC)",
    },
    every: {
      type: ["integer", "string"],
      description: 'a fixed interval instead of cron, at least 1s: "1s", "15m", 60000',
    },
    payload: { description: "what every firing carries (JSON)" },
    start: instant,
    end: instant,
    missed: {
      type: "string",
      enum: ["skip", "latest", "all"],
      description: "ticks missed while no process ran (default latest)",
    },
    maxMissed: {
      type: "integer",
      description: 'with missed "all": at most this many, the latest (1–1000, default 100)',
    },
    queue: { type: "string", description: "the queue firings are added to, as ordinary jobs" },
    attempts: { type: "integer", minimum: 1 },
    backoff: { description: "retry back-off of each firing job (as a job's backoff)" },
  },
} as const;

const definitionSchema = {
  type: "object",
  properties: {
    cron: { type: ["string", "null"] },
    timezone: { type: ["string", "null"] },
    everyMs: { type: ["integer", "null"] },
    payload: {},
    start: { type: ["integer", "null"] },
    end: { type: ["integer", "null"] },
    missed: { type: "string" },
    maxMissed: { type: "integer" },
    queue: { type: "string" },
    attempts: { type: "integer" },
    backoff: { type: "object", additionalProperties: true },
  },
} as const;

const scheduleSchema = {
  type: "object",
  properties: {
    name: { type: "string" },
    state: { type: "string", enum: ["active", "paused", "ended"] },
    definition: definitionSchema,
    next: { type: "array", items: instant, description: "the next firings, soonest first" },
  },
} as const;

const definedSchema = {
  ...scheduleSchema,
  properties: { ...scheduleSchema.properties, outcome: { type: "string", enum: ["created", "updated", "unchanged"] } },
} as const;

type NameParams = { name: string };
type NextQuery = { next: number };

/**
 * Schedules over HTTP. A schedule's firings are ordinary jobs in the queue it names, so push
 * targets and pull consumers of that queue get them. Reading needs any token (like reading a
 * queue); defining, changing, removing and triggering need produce, since a schedule adds jobs
 * to a queue on its own from then on. A schedule's ticker queue (`_schedules`) and the queues
 * of library-handled schedules (`schedule.<name>`) are out of reach of the queue routes
 * (reserved.ts), and no schedule may target a reserved queue.
 */
export async function scheduleRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const schedules = ctx.checkback.schedules;

  app.get<{ Querystring: NextQuery }>(
    "/v1/schedules",
    {
      config: { scope: "any" },
      schema: {
        tags,
        summary: "Every schedule, by name, with its next firings",
        querystring: nextQuery,
        response: {
          200: { type: "object", properties: { schedules: { type: "array", items: scheduleSchema } } },
          ...errorResponses,
        },
      },
    },
    async (request) => ({ schedules: await schedules.list({ next: request.query.next }) }),
  );

  app.get<{ Params: NameParams; Querystring: NextQuery }>(
    "/v1/schedules/:name",
    {
      config: { scope: "any" },
      schema: {
        tags,
        summary: "A schedule, with its next firings",
        params: nameParams,
        querystring: nextQuery,
        response: { 200: scheduleSchema, ...errorResponses },
      },
    },
    async (request) => {
      const found = await schedules.get(request.params.name, { next: request.query.next });
      if (!found) throw new ScheduleNotFoundError(request.params.name);
      return found;
    },
  );

  app.put<{ Params: NameParams; Body: ScheduleDefinition }>(
    "/v1/schedules/:name",
    {
      config: { scope: "produce" },
      schema: {
        tags,
        summary:
          "Define a schedule (201), or update it (200: a changed timetable takes effect from its next tick); the same definition again changes nothing",
        params: nameParams,
        body: defineBody,
        response: { 200: definedSchema, 201: definedSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const definition = { ...request.body, queue: ctx.queueName(request.body.queue as string) };
      const defined = await schedules.define(request.params.name, definition);
      return reply.code(defined.outcome === "created" ? 201 : 200).send(defined);
    },
  );

  app.delete<{ Params: NameParams }>(
    "/v1/schedules/:name",
    {
      config: { scope: "produce" },
      schema: {
        tags,
        summary: "Remove a schedule; its firing waiting for the next tick is withdrawn",
        params: nameParams,
        response: { 200: { type: "object", properties: { removed: { type: "boolean" } } }, ...errorResponses },
      },
    },
    async (request) => {
      if (!(await schedules.remove(request.params.name))) throw new ScheduleNotFoundError(request.params.name);
      return { removed: true };
    },
  );

  for (const action of ["pause", "resume"] as const) {
    app.post<{ Params: NameParams }>(
      `/v1/schedules/:name/${action}`,
      {
        config: { scope: "produce", optionalBody: true },
        schema: {
          tags,
          summary:
            action === "pause"
              ? "Pause a schedule (no firings until resumed; idempotent)"
              : "Resume a paused schedule from its next tick (ticks passed while paused are skipped)",
          params: nameParams,
          body: { type: "object", additionalProperties: false, properties: {} },
          response: { 200: scheduleSchema, ...errorResponses },
        },
      },
      async (request) => schedules[action](request.params.name),
    );
  }

  app.post<{ Params: NameParams; Body: { payload?: unknown } }>(
    "/v1/schedules/:name/trigger",
    {
      config: { scope: "produce", optionalBody: true },
      schema: {
        tags,
        summary: "Fire a schedule now, besides its timetable: the firing job (kind trigger) is added to its queue",
        params: nameParams,
        body: {
          type: "object",
          additionalProperties: false,
          properties: { payload: { description: "this firing's payload (default: the schedule's)" } },
        },
        response: { 201: addedJobSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const firing = await schedules.trigger(request.params.name, request.body.payload);
      return reply.code(201).send({ ...firing, outcome: "created" });
    },
  );
}
