import { randomBytes } from "node:crypto";
import type { BackoffOption, CheckSchedule, RateLimitInput } from "checkback";
import { type Duration, invalidOption, JobNotFoundError, parseDuration } from "checkback";
import { checkQueueName, MAX_CHECK_NAME_LENGTH, NAME_PATTERN, validateQueueName } from "checkback/internal";
import type { FastifyInstance } from "fastify";
import type { HttpCheck } from "../checks/http-check.js";
import type { CheckRegistry } from "../checks/registry.js";
import type { ServerContext } from "../context.js";
import { readDefinition, saveDefinition } from "../definitions.js";
import { HttpError } from "../errors.js";
import { errorResponses } from "../schemas.js";
import { deadLetterRoutes } from "./dead.js";
import { validateTargetUrl } from "./push.js";

export const CHECK_SETTING = "check";
const tags = ["checks"];
const MIN_TIMEOUT_MS = 100;
const MAX_TIMEOUT_MS = 5 * 60_000;

const duration = { type: ["integer", "string"] } as const;
const nameParams = {
  type: "object",
  required: ["name"],
  properties: {
    // The library's name rule, applied before a name reaches the store (the definition routes
    // read the server's settings by name).
    name: {
      type: "string",
      minLength: 1,
      maxLength: MAX_CHECK_NAME_LENGTH,
      pattern: NAME_PATTERN,
      description: "check name: letters, digits, _ . : -, not only dots",
    },
  },
} as const;
const keyParams = {
  type: "object",
  required: ["name", "key"],
  properties: { name: nameParams.properties.name, key: { type: "string", minLength: 1 } },
} as const;

const defineBody = {
  type: "object",
  required: ["probeUrl", "callbackUrl", "schedule"],
  additionalProperties: false,
  properties: {
    probeUrl: { type: "string", minLength: 1, maxLength: 2048 },
    callbackUrl: { type: "string", minLength: 1, maxLength: 2048 },
    schedule: {
      description:
        'a list of intervals ["10s","30s","1m"], { every, times } or { backoff: { delay, factor?, max }, times }',
    },
    deadline: duration,
    timeout: { ...duration, default: "10s" },
    concurrency: { type: "integer", minimum: 1, maximum: 1000, default: 10 },
    outcomeAttempts: { type: "integer", minimum: 1, maximum: 10_000, default: 10 },
    outcomeBackoff: { description: "back-off between outcome deliveries (as a job's backoff)" },
    secret: { type: "string", minLength: 16, maxLength: 512 },
    probeRate: {
      type: ["object", "null"],
      required: ["rate", "per"],
      additionalProperties: false,
      properties: { rate: { type: "integer" }, per: duration },
      description:
        "the check queue's rate limit (the group's, with `group`): at most `rate` probes and outcome deliveries per `per` (null: none)",
    },
    group: {
      type: ["string", "null"],
      description:
        "the group every probe job of the check carries (docs/flow-control.md#groups): 1 to 256 characters without control characters",
    },
  },
} as const;

const definitionSchema = {
  type: "object",
  properties: {
    name: { type: "string" },
    probeUrl: { type: "string" },
    callbackUrl: { type: "string" },
    schedule: {},
    deadline: {},
    timeoutMs: { type: "integer" },
    concurrency: { type: "integer" },
    outcomeAttempts: { type: "integer" },
    outcomeBackoff: {},
    secret: { type: "string" },
    probeRate: {
      type: ["object", "null"],
      properties: { rate: { type: "integer" }, per: { type: ["integer", "string"] } },
    },
    group: { type: ["string", "null"] },
  },
} as const;

const statusSchema = {
  type: "object",
  additionalProperties: true,
  properties: {
    name: { type: "string" },
    key: { type: "string" },
    checkId: { type: "string" },
    state: { type: "string", enum: ["running", "done", "failed", "gave_up", "cancelled", "dead"] },
    input: {},
    result: {},
    reason: { type: ["string", "null"] },
    endedBy: {
      type: ["string", "null"],
      enum: ["probe", "resolve", "reject", "schedule", "deadline", "cancel", "dead", null],
    },
    probes: { type: "integer" },
    history: { type: "array", items: { type: "object", additionalProperties: true } },
    startedAt: { type: "integer" },
    nextProbeAt: { type: ["integer", "null"] },
    deadlineAt: { type: ["integer", "null"] },
    endedAt: { type: ["integer", "null"] },
    outcome: { type: ["object", "null"], additionalProperties: true },
  },
} as const;

type DefineBody = {
  probeUrl: string;
  callbackUrl: string;
  schedule: CheckSchedule;
  deadline?: Duration;
  timeout: Duration;
  concurrency: number;
  outcomeAttempts: number;
  outcomeBackoff?: BackoffOption;
  secret?: string;
  probeRate?: RateLimitInput | null;
  group?: string | null;
};
type NameParams = { name: string };
type KeyParams = { name: string; key: string };

/**
 * Delayed checks over HTTP. An admin defines a check (probe URL, callback URL, schedule,
 * deadline) and tends its dead letters; producers start it per business key, resolve or reject
 * it when the other party's notification arrives first, cancel it, and read its status and
 * probe history (produce, not any token: the status carries the check's input and result).
 * These are the only routes that reach a check's queue, `check.<name>`: the generic queue
 * routes refuse it (reserved.ts).
 */
export function checkRoutes(registry: CheckRegistry) {
  return async (app: FastifyInstance, ctx: ServerContext): Promise<void> => {
    app.put<{ Params: NameParams; Body: DefineBody }>(
      "/v1/checks/:name",
      {
        config: { scope: "admin" },
        schema: {
          tags,
          summary: "Define (or redefine) a check probed over HTTP; the answer shows the signing secret once",
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
        const http: HttpCheck = {
          probeUrl: validateTargetUrl(body.probeUrl),
          callbackUrl: validateTargetUrl(body.callbackUrl),
          schedule: body.schedule,
          deadline: body.deadline ?? null,
          timeoutMs,
          concurrency: body.concurrency,
          outcomeAttempts: body.outcomeAttempts,
          outcomeBackoff: body.outcomeBackoff ?? null,
          probeRate: body.probeRate ?? null,
          group: body.group ?? null,
          secret: body.secret ?? ctx.config.pushSecret ?? randomBytes(24).toString("base64url"),
        };
        return saveDefinition(ctx.settings, CHECK_SETTING, registry, name, http, ["probeUrl", "callbackUrl"] as const);
      },
    );

    app.get<{ Params: NameParams }>(
      "/v1/checks/:name",
      {
        config: { scope: "admin" },
        schema: {
          tags,
          summary: "A check's definition (without its secret)",
          params: nameParams,
          response: { 200: definitionSchema, ...errorResponses },
        },
      },
      async (request) => {
        const { name } = request.params;
        const shown = await readDefinition<HttpCheck, "probeUrl" | "callbackUrl">(ctx.settings, CHECK_SETTING, name, [
          "probeUrl",
          "callbackUrl",
        ] as const);
        if (!shown)
          throw new HttpError(404, "CHECK_NOT_FOUND", `no check ${JSON.stringify(name)} is defined`, { name });
        return shown;
      },
    );

    app.post<{ Params: NameParams; Body: { key: string; input?: unknown } }>(
      "/v1/checks/:name/start",
      {
        config: { scope: "produce" },
        schema: {
          tags,
          summary: "Start the check for a key (201); if one runs for the key already, it is returned (200)",
          params: nameParams,
          body: {
            type: "object",
            required: ["key"],
            additionalProperties: false,
            properties: { key: { type: "string", minLength: 1 }, input: {} },
          },
          response: {
            200: statusSchema,
            201: statusSchema,
            ...errorResponses,
          },
        },
      },
      async (request, reply) => {
        const check = registry.get(request.params.name);
        const started = await check.start(request.body.key, request.body.input ?? null);
        return reply.code(started.created ? 201 : 200).send(started);
      },
    );

    app.post<{ Params: KeyParams; Body: { result?: unknown } }>(
      "/v1/checks/:name/:key/resolve",
      {
        config: { scope: "produce", optionalBody: true },
        schema: {
          tags,
          summary: "End the running check as done (the other party's notification came first)",
          params: keyParams,
          body: { type: "object", additionalProperties: false, properties: { result: {} } },
          response: { 200: { type: "object", properties: { resolved: { type: "boolean" } } }, ...errorResponses },
        },
      },
      async (request) => {
        const check = registry.get(request.params.name);
        return { resolved: await check.resolve(request.params.key, request.body.result ?? null) };
      },
    );

    app.post<{ Params: KeyParams; Body: { reason: string } }>(
      "/v1/checks/:name/:key/reject",
      {
        config: { scope: "produce" },
        schema: {
          tags,
          summary: "End the running check as failed, with a reason",
          params: keyParams,
          body: {
            type: "object",
            required: ["reason"],
            additionalProperties: false,
            properties: { reason: { type: "string", minLength: 1, maxLength: 10_000 } },
          },
          response: { 200: { type: "object", properties: { rejected: { type: "boolean" } } }, ...errorResponses },
        },
      },
      async (request) => {
        const check = registry.get(request.params.name);
        return { rejected: await check.reject(request.params.key, request.body.reason) };
      },
    );

    app.delete<{ Params: KeyParams }>(
      "/v1/checks/:name/:key",
      {
        config: { scope: "produce" },
        schema: {
          tags,
          summary: "Stop the running check without an outcome",
          params: keyParams,
          response: { 200: { type: "object", properties: { cancelled: { type: "boolean" } } }, ...errorResponses },
        },
      },
      async (request) => {
        const check = registry.get(request.params.name);
        return { cancelled: await check.cancel(request.params.key) };
      },
    );

    app.get<{ Params: KeyParams }>(
      "/v1/checks/:name/:key",
      {
        config: { scope: "produce" },
        schema: {
          tags,
          summary: "The check for a key: state, probe history, outcome delivery",
          params: keyParams,
          response: { 200: statusSchema, ...errorResponses },
        },
      },
      async (request) => {
        const { name, key } = request.params;
        const status = await registry.get(name).status(key);
        if (!status) throw new JobNotFoundError(`check ${name} key ${JSON.stringify(key)}`);
        return status;
      },
    );

    // Outcome deliveries that used up their attempts, and probe jobs whose workers kept dying.
    // Admin only, like every dead letter: these routes cannot add or finish a job.
    // Under dead/…, never a bare /dead, so GET /v1/checks/:name/:key keeps every key, "dead" too.
    deadLetterRoutes(app, ctx, {
      tags: ["checks"],
      paths: {
        list: "/v1/checks/:name/dead/jobs",
        one: "/v1/checks/:name/dead/jobs/:id",
        redrive: "/v1/checks/:name/dead/redrive",
        purge: "/v1/checks/:name/dead/purge",
      },
      params: nameParams,
      oneParams: {
        type: "object",
        required: ["name", "id"],
        properties: { name: nameParams.properties.name, id: { type: "string", minLength: 1 } },
      },
      // Any check name, defined here or not: a check run by the library on the same store
      // (not over HTTP) has its dead letters tended here too.
      queueOf: (request) => validateQueueName(checkQueueName((request.params as NameParams).name)),
    });
  };
}
