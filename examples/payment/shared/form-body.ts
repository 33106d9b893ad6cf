import type { FastifyInstance } from "fastify";

/**
 * Alipay posts notifies (and the cashier page posts its buttons) as
 * application/x-www-form-urlencoded. Values arrive decoded once, exactly as signed.
 */
export function acceptFormBodies(app: FastifyInstance): void {
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
}
