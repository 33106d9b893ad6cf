import { parseDuration } from "checkback";
import { CHECK_KEY_PREFIX, checkQueueName } from "checkback/internal";
import type { FastifyInstance } from "fastify";
import type { Authorizer } from "../auth.js";
import type { CheckRegistry } from "../checks/registry.js";
import type { ServerContext } from "../context.js";
import { alertsFor } from "../dashboard/alerts.js";
import { SAMPLE_INTERVAL_MS } from "../dashboard/samples.js";
import { countsSchema, errorResponses } from "../schemas.js";

const tags = ["dashboard"];
const DEFAULT_LATENESS_ALERT = "5s";
const series = { type: "array", items: { type: ["number", "null"] } } as const;

/**
 * The reads the dashboard (/ui) makes beyond the ordinary routes: who the token is, the
 * overview (counts, the last hour's charts, alerts) and the checks with their running keys.
 */
export function dashboardRoutes(authorizer: Authorizer, checks: CheckRegistry) {
  return async (app: FastifyInstance, ctx: ServerContext): Promise<void> => {
    app.get(
      "/v1/token",
      {
        config: { scope: "any" },
        schema: {
          tags,
          summary: "The scopes of the token sent (every scope when the API is open)",
          response: {
            200: {
              type: "object",
              properties: { open: { type: "boolean" }, scopes: { type: "array", items: { type: "string" } } },
            },
            ...errorResponses,
          },
        },
      },
      async (request) => ({ open: authorizer.open, scopes: [...authorizer.scopesOfRequest(request)].sort() }),
    );

    app.get<{ Querystring: { latenessAlert: string } }>(
      "/v1/overview",
      {
        config: { scope: "any" },
        schema: {
          tags,
          summary: "Every queue's counts, the last hour of hand-outs, outcomes and lateness (10 s buckets), and alerts",
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: {
              latenessAlert: {
                type: "string",
                maxLength: 32,
                default: DEFAULT_LATENESS_ALERT,
                description: "alert when the last 5 minutes' p99 firing lateness is above this duration",
              },
            },
          },
          response: {
            200: {
              type: "object",
              properties: {
                now: { type: "integer" },
                intervalMs: { type: "integer" },
                queues: {
                  type: "array",
                  items: {
                    type: "object",
                    properties: {
                      name: { type: "string" },
                      counts: countsSchema,
                      series: {
                        type: "object",
                        properties: {
                          at: { type: "array", items: { type: "integer" } },
                          handedOut: series,
                          completed: series,
                          failed: series,
                          latenessP50: series,
                          latenessP99: series,
                        },
                      },
                    },
                  },
                },
                alerts: {
                  type: "array",
                  items: {
                    type: "object",
                    properties: { queue: { type: "string" }, kind: { type: "string" }, message: { type: "string" } },
                  },
                },
              },
            },
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const threshold = parseDuration(request.query.latenessAlert, "latenessAlert");
        const now = Date.now();
        const names = await ctx.queueNames();
        const counts = await Promise.all(names.map((name) => ctx.store.counts(name)));
        const samples = ctx.metrics.samples;
        return {
          now,
          intervalMs: SAMPLE_INTERVAL_MS,
          queues: names.map((name, i) => ({ name, counts: counts[i], series: samples.series(name) })),
          alerts: names.flatMap((name, i) => alertsFor(name, counts[i]!, samples, threshold, now)),
        };
      },
    );

    app.get<{ Querystring: { name?: string; state: "running" | "ended"; limit: number; cursor?: string } }>(
      "/v1/checks",
      {
        // The statuses carry each check's input and result, as GET /v1/checks/:name/:key does.
        config: { scope: "produce" },
        schema: {
          tags: ["checks"],
          summary: "The checks defined here, each with a page of its running (or ended) keys and their probe history",
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: {
              name: { type: "string", maxLength: 128, description: "only this check (to page through its keys)" },
              state: { type: "string", enum: ["running", "ended"], default: "running" },
              limit: { type: "integer", minimum: 1, maximum: 200, default: 50 },
              cursor: { type: "string" },
            },
          },
          response: {
            200: {
              type: "object",
              properties: {
                checks: {
                  type: "array",
                  items: {
                    type: "object",
                    properties: {
                      name: { type: "string" },
                      counts: countsSchema,
                      keys: { type: "array", items: { type: "object", additionalProperties: true } },
                      next: { type: ["string", "null"] },
                    },
                  },
                },
              },
            },
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const { name, state, limit, cursor } = request.query;
        // A name not defined here is 404 CHECK_NOT_FOUND.
        if (name !== undefined) checks.get(name);
        const names = name === undefined ? checks.names() : [name];
        return {
          checks: await Promise.all(
            names.map(async (check) => {
              const queue = checkQueueName(check);
              // A running check's probe job is scheduled between probes and active during one.
              // Active ones come on the first page only; the cursor pages through the scheduled ones.
              const states =
                state === "ended"
                  ? (["completed"] as const)
                  : cursor
                    ? (["scheduled"] as const)
                    : (["active", "scheduled"] as const);
              const jobs = [];
              let next: string | null = null;
              for (const jobState of states) {
                const paged = jobState === states[states.length - 1];
                const page = await ctx.store.list(queue, jobState, { limit, cursor: paged ? (cursor ?? null) : null });
                jobs.push(...page.jobs);
                if (paged) next = page.next;
              }
              const keys = jobs.filter((job) => job.key?.startsWith(CHECK_KEY_PREFIX));
              const statuses = await Promise.all(
                keys.map((job) => checks.get(check).status(job.key!.slice(CHECK_KEY_PREFIX.length))),
              );
              return {
                name: check,
                counts: await ctx.store.counts(queue),
                keys: statuses.filter((status) => status !== null),
                next,
              };
            }),
          ),
        };
      },
    );
  };
}
