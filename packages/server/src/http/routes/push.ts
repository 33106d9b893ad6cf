import { randomBytes } from "node:crypto";
import { invalidOption, parseDuration } from "checkback";
import type { FastifyInstance } from "fastify";
import type { ServerContext } from "../context.js";
import { HttpError } from "../errors.js";
import type { PushTarget } from "../push/dispatcher.js";
import { redactUrl, withRedactedUrls } from "../redact.js";
import { errorResponses, pushBody, pushSchema, queueParams } from "../schemas.js";

type QueueParams = { queue: string };
type PushBody = { url: string; timeout: number | string; concurrency: number; secret?: string };

export const PUSH_SETTING = "push";
const tags = ["push"];
const MIN_TIMEOUT_MS = 100;
const MAX_TIMEOUT_MS = 5 * 60_000;

/**
 * Push targets (admin). A queue with a target has its due jobs POSTed there by the server.
 * The secret signs every request; it is shown in the PUT answer only (GET hides it), and
 * generated when none is given and the server has no default push secret.
 */
export async function pushRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.put<{ Params: QueueParams; Body: PushBody }>(
    "/v1/queues/:queue/push",
    {
      config: { scope: "admin" },
      schema: {
        tags,
        summary: "Deliver this queue's due jobs to a URL (replaces any earlier target)",
        params: queueParams,
        body: pushBody,
        response: { 200: pushSchema, ...errorResponses },
      },
    },
    async (request) => {
      const queue = ctx.queueName(request.params.queue);
      const { url, concurrency } = request.body;
      const timeoutMs = parseDuration(request.body.timeout, "timeout");
      if (timeoutMs < MIN_TIMEOUT_MS || timeoutMs > MAX_TIMEOUT_MS) {
        throw invalidOption(`timeout must be from ${MIN_TIMEOUT_MS}ms to 5m`, { timeout: request.body.timeout });
      }
      const target: PushTarget = {
        url: validateTargetUrl(url),
        timeoutMs,
        concurrency,
        secret: request.body.secret ?? ctx.config.pushSecret ?? randomBytes(24).toString("base64url"),
      };
      await ctx.settings.put(PUSH_SETTING, queue, target);
      await ctx.push.start(queue, target);
      // The secret is shown this once; credentials in the URL never are.
      return { queue, ...withRedactedUrls(target, ["url"]) };
    },
  );

  app.get<{ Params: QueueParams }>(
    "/v1/queues/:queue/push",
    {
      config: { scope: "admin" },
      schema: {
        tags,
        summary: "This queue's push target (without its secret)",
        params: queueParams,
        response: { 200: pushSchema, ...errorResponses },
      },
    },
    async (request) => {
      const queue = ctx.queueName(request.params.queue);
      const target = await ctx.settings.get<PushTarget>(PUSH_SETTING, queue);
      if (!target) throw new HttpError(404, "PUSH_NOT_CONFIGURED", `queue ${queue} has no push target`, { queue });
      const { secret: _hidden, ...shown } = target;
      return { queue, ...withRedactedUrls(shown, ["url"]) };
    },
  );

  app.delete<{ Params: QueueParams }>(
    "/v1/queues/:queue/push",
    {
      config: { scope: "admin" },
      schema: {
        tags,
        summary: "Stop pushing this queue (its jobs stay, for pull or a later target)",
        params: queueParams,
        response: { 200: { type: "object", properties: { deleted: { type: "boolean" } } }, ...errorResponses },
      },
    },
    async (request) => {
      const queue = ctx.queueName(request.params.queue);
      const deleted = await ctx.settings.delete(PUSH_SETTING, queue);
      await ctx.push.stop(queue);
      return { deleted };
    },
  );
}

export function validateTargetUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalidOption("url must be an absolute http(s) URL", { url: redactUrl(text) });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw invalidOption("url must be an absolute http(s) URL", { url: redactUrl(text) });
  }
  return url.toString();
}
