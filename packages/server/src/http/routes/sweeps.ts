import { randomBytes } from "node:crypto";
import type { BackoffOption, Duration } from "checkback";
import { invalidOption, parseDuration } from "checkback";
import { MAX_SWEEP_NAME_LENGTH, NAME_PATTERN, SWEEP_ITEMS_QUEUE_PREFIX, validateQueueName } from "checkback/internal";
import type { FastifyInstance } from "fastify";
import type { ServerContext } from "../context.js";
import { readDefinition, saveDefinition } from "../definitions.js";
import { HttpError } from "../errors.js";
import { errorResponses } from "../schemas.js";
import type { HttpSweep } from "../sweeps/http-sweep.js";
import type { SweepRegistry } from "../sweeps/registry.js";
import { deadLetterRoutes } from "./dead.js";
import { validateTargetUrl } from "./push.js";

export const SWEEP_SETTING = "sweep";
const tags = ["sweeps"];
const MIN_TIMEOUT_MS = 100;
const MAX_TIMEOUT_MS = 5 * 60_000;

const nameParams = {
  type: "object",
  required: ["name"],
  properties: {
    name: {
      type: "string",
      minLength: 1,
      maxLength: MAX_SWEEP_NAME_LENGTH,
      pattern: NAME_PATTERN,
      description: "sweep name: letters, digits, _ . : -, not only dots",
    },
  },
} as const;

const defineBody = {
  type: "object",
  required: ["pageUrl", "itemUrl"],
  additionalProperties: false,
  properties: {
    pageUrl: {
      type: "string",
      minLength: 1,
      maxLength: 2048,
      description: "POST { sweep, runId, cursor } → { items, next }",
    },
    itemUrl: {
      type: "string",
      minLength: 1,
      maxLength: 2048,
      description: "POST { sweep, runId, attempt, item } → 2xx",
    },
    concurrency: { type: "integer", minimum: 1, maximum: 1000, default: 10 },
    attempts: { type: "integer", minimum: 1, maximum: 10_000, default: 3 },
    backoff: { description: "back-off between an item's retries (as a job's backoff)" },
    pageAttempts: { type: "integer", minimum: 1, maximum: 10_000, default: 10 },
    timeout: { type: ["integer", "string"], default: "30s" },
    total: { type: "integer", minimum: 0, description: "items the sweep will see, for the ETA" },
    secret: { type: "string", minLength: 16, maxLength: 512 },
  },
} as const;

const definitionSchema = {
  type: "object",
  properties: {
    name: { type: "string" },
    pageUrl: { type: "string" },
    itemUrl: { type: "string" },
    concurrency: { type: "integer" },
    attempts: { type: "integer" },
    backoff: {},
    pageAttempts: { type: "integer" },
    timeoutMs: { type: "integer" },
    total: { type: ["integer", "null"] },
    secret: { type: "string" },
  },
} as const;

const runSchema = {
  type: "object",
  properties: {
    id: { type: "string" },
    sweep: { type: "string" },
    state: { type: "string", enum: ["running", "completed", "failed", "cancelled"] },
    startedAt: { type: "integer" },
    finishedAt: { type: ["integer", "null"] },
    durationMs: { type: "integer" },
    cursor: { type: ["string", "null"] },
    pages: { type: "integer" },
    items: { type: "integer" },
    failed: { type: "integer" },
    total: { type: ["integer", "null"] },
    rate: { type: "number" },
    etaMs: { type: ["integer", "null"] },
    error: { type: ["string", "null"] },
    resumedFrom: { type: ["string", "null"] },
    created: { type: "boolean" },
  },
} as const;

const statusSchema = {
  type: "object",
  properties: {
    name: { type: "string" },
    state: { type: "string", enum: ["idle", "running", "completed", "failed", "cancelled"] },
    run: { anyOf: [runSchema, { type: "null" }] },
    retrying: { type: "integer" },
    dead: { type: "integer" },
  },
} as const;

type DefineBody = {
  pageUrl: string;
  itemUrl: string;
  concurrency: number;
  attempts: number;
  backoff?: BackoffOption;
  pageAttempts: number;
  timeout: Duration;
  total?: number;
  secret?: string;
};
type NameParams = { name: string };

/**
 * Sweeps over HTTP: an admin defines a sweep (its page and item URLs) and tends the dead
 * letters of its items; producers start and cancel runs and read their progress and history
 * (produce, as for checks). These are the only routes that reach a sweep's queues,
 * `sweep.<name>` and `sweep-items.<name>`: the generic queue routes refuse them (reserved.ts).
 */
export function sweepRoutes(registry: SweepRegistry) {
  return async (app: FastifyInstance, ctx: ServerContext): Promise<void> => {
    app.put<{ Params: NameParams; Body: DefineBody }>(
      "/v1/sweeps/:name",
      {
        config: { scope: "admin" },
        schema: {
          tags,
          summary: "Define (or redefine) a sweep over HTTP; the answer shows the signing secret once",
          params: nameParams,
          body: defineBody,
          response: { 200: definitionSchema, ...errorResponses },
        },
      },
      async (request) => {
        const { name } = request.params;
        const body = request.body;
        const timeoutMs = parseDuration(body.timeout, "timeout");
        if (timeoutMs < MIN_TIMEOUT_MS || timeoutMs > MAX_TIMEOUT_MS) {
          throw invalidOption(`timeout must be from ${MIN_TIMEOUT_MS}ms to 5m`, { timeout: body.timeout });
        }
        const http: HttpSweep = {
          pageUrl: validateTargetUrl(body.pageUrl),
          itemUrl: validateTargetUrl(body.itemUrl),
          concurrency: body.concurrency,
          attempts: body.attempts,
          backoff: body.backoff ?? null,
          pageAttempts: body.pageAttempts,
          timeoutMs,
          total: body.total ?? null,
          secret: body.secret ?? ctx.config.pushSecret ?? randomBytes(24).toString("base64url"),
        };
        return saveDefinition(ctx.settings, SWEEP_SETTING, registry, name, http, ["pageUrl", "itemUrl"] as const);
      },
    );

    app.get<{ Params: NameParams }>(
      "/v1/sweeps/:name/definition",
      {
        config: { scope: "admin" },
        schema: {
          tags,
          summary: "A sweep's definition (without its secret)",
          params: nameParams,
          response: { 200: definitionSchema, ...errorResponses },
        },
      },
      async (request) => {
        const { name } = request.params;
        const shown = await readDefinition<HttpSweep, "pageUrl" | "itemUrl">(ctx.settings, SWEEP_SETTING, name, [
          "pageUrl",
          "itemUrl",
        ] as const);
        if (!shown)
          throw new HttpError(404, "SWEEP_NOT_FOUND", `no sweep ${JSON.stringify(name)} is defined`, { name });
        return shown;
      },
    );

    app.get(
      "/v1/sweeps",
      {
        config: { scope: "produce" },
        schema: {
          tags,
          summary: "The sweeps this server knows, each with its newest run",
          response: {
            200: { type: "object", properties: { sweeps: { type: "array", items: statusSchema } } },
            ...errorResponses,
          },
        },
      },
      async () => ({ sweeps: await registry.statuses() }),
    );

    app.get<{ Params: NameParams }>(
      "/v1/sweeps/:name",
      {
        config: { scope: "produce" },
        schema: {
          tags,
          summary: "A sweep's progress: its newest run (pages, items, failed, rate, ETA) and its item queue",
          params: nameParams,
          response: { 200: statusSchema, ...errorResponses },
        },
      },
      async (request) => registry.get(request.params.name).status(),
    );

    app.post<{ Params: NameParams; Body: { restart?: boolean } }>(
      "/v1/sweeps/:name/start",
      {
        config: { scope: "produce", optionalBody: true },
        schema: {
          tags,
          summary:
            "Start a run (201); if one is going it is returned (200). A run after a failed one resumes from its cursor unless restart is true",
          params: nameParams,
          body: { type: "object", additionalProperties: false, properties: { restart: { type: "boolean" } } },
          response: { 200: runSchema, 201: runSchema, ...errorResponses },
        },
      },
      async (request, reply) => {
        const sweep = registry.get(request.params.name);
        const run = await sweep.start(request.body.restart === undefined ? {} : { restart: request.body.restart });
        return reply.code(run.created ? 201 : 200).send(run);
      },
    );

    app.post<{ Params: NameParams }>(
      "/v1/sweeps/:name/cancel",
      {
        config: { scope: "produce", optionalBody: true },
        schema: {
          tags,
          summary: "Cancel the running run; cancelled is false when none was going",
          params: nameParams,
          response: { 200: { type: "object", properties: { cancelled: { type: "boolean" } } }, ...errorResponses },
        },
      },
      async (request) => ({ cancelled: await registry.get(request.params.name).cancel() }),
    );

    app.get<{ Params: NameParams; Querystring: { limit: number } }>(
      "/v1/sweeps/:name/runs",
      {
        config: { scope: "produce" },
        schema: {
          tags,
          summary: "The run history, newest first: each run's result (counts, duration, error)",
          params: nameParams,
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: { limit: { type: "integer", minimum: 1, maximum: 1000, default: 20 } },
          },
          response: {
            200: { type: "object", properties: { runs: { type: "array", items: runSchema } } },
            ...errorResponses,
          },
        },
      },
      async (request) => ({ runs: await registry.get(request.params.name).runs(request.query.limit) }),
    );

    // Items that used up their retries. Admin only, like every dead letter.
    deadLetterRoutes(app, ctx, {
      tags,
      paths: {
        list: "/v1/sweeps/:name/dead/jobs",
        one: "/v1/sweeps/:name/dead/jobs/:id",
        redrive: "/v1/sweeps/:name/dead/redrive",
        purge: "/v1/sweeps/:name/dead/purge",
      },
      params: nameParams,
      oneParams: {
        type: "object",
        required: ["name", "id"],
        properties: { name: nameParams.properties.name, id: { type: "string", minLength: 1 } },
      },
      queueOf: (request) => validateQueueName(SWEEP_ITEMS_QUEUE_PREFIX + (request.params as NameParams).name),
    });
  };
}
