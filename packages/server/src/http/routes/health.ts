import type { FastifyInstance } from "fastify";
import type { ServerContext } from "../context.js";
import { errorBody } from "../errors.js";
import { errorSchema } from "../schemas.js";
import type { StoreHealth } from "../store/guard.js";
import { storeUnreadiness } from "../store/probe.js";

/**
 * Liveness and readiness, open to all (no token).
 *   /healthz: the process answers — it never touches the store, so an orchestrator does not
 *     restart a healthy server because its store is down.
 *   /readyz: the store answers a read within a bound, writes are not known to fail, and the
 *     server is not shutting down; 503 with the reason otherwise, so traffic goes elsewhere.
 */
export async function healthRoutes(app: FastifyInstance, ctx: ServerContext, storeHealth?: StoreHealth): Promise<void> {
  app.get(
    "/healthz",
    { schema: { tags: ["service"], summary: "Liveness: the process answers", security: [] } },
    async () => ({ status: "ok" }),
  );

  app.get(
    "/readyz",
    {
      schema: {
        tags: ["service"],
        summary: "Readiness: the store answers and the server is not shutting down",
        security: [],
        response: {
          200: { type: "object", properties: { status: { type: "string" }, store: { type: "string" } } },
          503: errorSchema,
        },
      },
    },
    async (_request, reply) => {
      if (ctx.closing.aborted) return reply.code(503).send(errorBody("SHUTTING_DOWN", "the server is shutting down"));
      const reason = await storeUnreadiness(ctx.store, storeHealth);
      if (reason !== null) return reply.code(503).send(errorBody("STORE_UNAVAILABLE", reason));
      return { status: "ready", store: ctx.store.kind };
    },
  );
}
