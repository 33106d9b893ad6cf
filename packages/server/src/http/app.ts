import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { Ajv } from "ajv";
import type { Checkback } from "checkback";
import { activeTraceIds, MAX_KEY_LENGTH, withTraceparent } from "checkback/internal";
import Fastify, { type FastifyInstance, LogController } from "fastify";
import { Authorizer, documentScopes, type RouteScope } from "./auth.js";
import type { HttpCheck } from "./checks/http-check.js";
import { CheckRegistry } from "./checks/registry.js";
import type { ServerConfig } from "./config.js";
import { ServerContext } from "./context.js";
import { uiRoutes } from "./dashboard/static.js";
import { clientErrorHandler, frameworkErrors, HttpError, installErrorHandling } from "./errors.js";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "./json-depth.js";
import { ServerMetrics } from "./metrics.js";
import { PushDispatcher, type PushTarget } from "./push/dispatcher.js";
import { redactRequestUrl } from "./redact.js";
import { guardReservedQueues, isServerQueue } from "./reserved.js";
import { CHECK_SETTING, checkRoutes } from "./routes/checks.js";
import { dashboardRoutes } from "./routes/dashboard.js";
import { deadRoutes } from "./routes/dead.js";
import { flowRoutes } from "./routes/flow.js";
import { groupRoutes } from "./routes/groups.js";
import { healthRoutes } from "./routes/health.js";
import { pullRoutes } from "./routes/pull.js";
import { PUSH_SETTING, pushRoutes } from "./routes/push.js";
import { queueRoutes } from "./routes/queues.js";
import { scheduleRoutes } from "./routes/schedules.js";
import { SWEEP_SETTING, sweepRoutes } from "./routes/sweeps.js";
import { Settings } from "./settings.js";
import type { StoreHealth } from "./store/guard.js";
import type { HttpSweep } from "./sweeps/http-sweep.js";
import { registerSweepMetrics } from "./sweeps/metrics.js";
import { SweepRegistry } from "./sweeps/registry.js";
import { syncHook } from "./sync-hook.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The token scope a route needs; routes without one are open (health, metrics, docs). */
    scope?: RouteScope;
    /** A POST whose body may be left out entirely (it then counts as {}). */
    optionalBody?: boolean;
  }
}

/** How often push targets and checks are re-read from the store, to follow changes made through another server. */
const SETTINGS_SYNC_MS = 15_000;

/**
 * Builds the HTTP API around a Checkback instance. The caller owns the Checkback (and its
 * store) and closes it after the app; closing the app ends long-polls, push workers and check workers.
 */
export interface AppOptions {
  /** What the server's store guard has seen (start.ts); readiness then also covers failing writes. */
  storeHealth?: StoreHealth;
  /** Where log lines go instead of stdout (tests read them). */
  logStream?: { write(line: string): void };
}

export async function buildApp(
  checkback: Checkback,
  config: ServerConfig,
  options: AppOptions = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    logger: {
      level: config.logLevel,
      // Lines written inside a traced job or request name its trace (docs/observability.md).
      mixin: () => activeTraceIds() ?? {},
      redact: { paths: ["req.headers.authorization", "headers.authorization", "authorization"], censor: "***" },
      ...(options.logStream ? { stream: options.logStream } : {}),
    },
    bodyLimit: config.bodyLimit,
    // One line per refused request (below) instead of two per request: keeps logs useful under load.
    logController: new LogController({ disableRequestLogging: true }),
    // Receiving a request is bounded (slow senders are answered 408 and dropped); the timer
    // stops once the request is in, so a claim may still wait up to maxWait before answering.
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    http: {
      headersTimeout: config.headersTimeoutMs,
      // Node checks for overdue requests on this interval (30 s by default): keep it a small
      // share of the timeouts so a slow request is cut close to its deadline.
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(config.headersTimeoutMs / 4))),
    },
    // The router measures a parameter after decoding all but reserved characters (which stay as
    // three, e.g. %2F): the longest valid key still routes, anything longer is 414 URI_TOO_LONG.
    routerOptions: { maxParamLength: MAX_KEY_LENGTH * 3 },
    frameworkErrors,
    clientErrorHandler,
  });
  app.server.maxConnections = config.maxConnections;

  // Bodies are validated strictly (a string is not a number, unknown fields are refused);
  // query strings and path parameters are text by nature and are coerced.
  const bodyAjv = new Ajv({
    coerceTypes: false,
    useDefaults: true,
    removeAdditional: false,
    allErrors: false,
    strict: false,
  });
  const textAjv = new Ajv({
    coerceTypes: true,
    useDefaults: true,
    removeAdditional: false,
    allErrors: false,
    strict: false,
  });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === "body" ? bodyAjv : textAjv).compile(schema));

  installErrorHandling(app);
  // Before any route (and before swagger, which reads each route's schema as it is added).
  documentScopes(app);
  guardReservedQueues(app);
  acceptEmptyBodies(app);
  // The API speaks JSON only; a text body is 415, not a string that fails validation later.
  app.removeContentTypeParser("text/plain");
  // Many clients send Content-Type: application/json on every request, DELETEs included: an
  // empty body then counts as no body rather than as malformed JSON. Non-empty bodies keep
  // fastify's parser (with its __proto__ / constructor poisoning guard).
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    if (body === "") {
      done(null, undefined);
      return;
    }
    parseJson(request, body as string, (error, value) => {
      if (error) done(error, undefined);
      else if (nestsDeeperThan(value, MAX_JSON_DEPTH)) {
        done(new HttpError(400, "INVALID_REQUEST", `the body nests deeper than ${MAX_JSON_DEPTH} levels`), undefined);
      } else done(null, value);
    });
  });

  const metrics = new ServerMetrics(checkback.store, isServerQueue);
  const settings = new Settings(checkback.store);
  const push = new PushDispatcher(checkback.store, metrics, app.log);
  const ctx = new ServerContext(checkback, config, metrics, settings, push);
  const checks = new CheckRegistry(checkback, metrics, config.maxPayloadBytes);
  const sweeps = new SweepRegistry(checkback, config.maxPayloadBytes);
  registerSweepMetrics(metrics.registry, () => sweeps.statuses());
  const authorizer = new Authorizer(config.tokens);
  if (authorizer.open) {
    app.log.warn("no tokens configured: the API is open to anyone who can reach it (set CHECKBACK_TOKENS)");
  }

  // Without tokens every request passes: no hook at all then.
  if (!authorizer.open) {
    app.addHook(
      "onRequest",
      syncHook((request) => authorizer.check(request, request.routeOptions.config.scope)),
    );
  }
  // A producer's traceparent header: the jobs its request adds continue its trace.
  app.addHook("preHandler", (request, _reply, done) => withTraceparent(request.headers.traceparent, done));
  app.addHook(
    "onResponse",
    syncHook((request, reply) => {
      const route = request.routeOptions.url ?? "unmatched";
      metrics.httpDuration.observe(
        { method: request.method, route, status: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
      if (reply.statusCode >= 400) {
        request.log.info(
          { method: request.method, url: redactRequestUrl(request.url), status: reply.statusCode },
          "request refused",
        );
      }
    }),
  );

  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "checkback",
        description: "Durable delay queue and delayed-check engine over HTTP",
        version: "0.1.0",
      },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: [{ bearer: [] }],
    },
  });
  if (config.docs) await app.register(swaggerUi, { routePrefix: "/docs" });
  if (config.ui) uiRoutes(app);

  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());

  await healthRoutes(app, ctx, options.storeHealth);

  app.get(
    "/metrics",
    { schema: { tags: ["service"], summary: "Prometheus metrics", security: [] } },
    async (_request, reply) => {
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    },
  );

  await app.register(async (scope) => {
    await queueRoutes(scope, ctx);
    await flowRoutes(scope, ctx);
    await groupRoutes(scope, ctx);
    await deadRoutes(scope, ctx);
    await pullRoutes(scope, ctx);
    await pushRoutes(scope, ctx);
    await checkRoutes(checks)(scope, ctx);
    await sweepRoutes(sweeps)(scope, ctx);
    await scheduleRoutes(scope, ctx);
    await dashboardRoutes(authorizer, checks)(scope, ctx);
  });

  let syncTimer: NodeJS.Timeout | undefined;
  const syncSettings = async () => {
    try {
      await push.sync(() => settings.list<PushTarget>(PUSH_SETTING));
      await checks.sync(() => settings.list<HttpCheck>(CHECK_SETTING));
      await sweeps.sync(() => settings.list<HttpSweep>(SWEEP_SETTING));
    } catch (err) {
      app.log.error({ err }, "could not read push targets and checks from the store");
    }
  };
  app.addHook("onReady", async () => {
    // Schedules fire while any process runs their tickers: every server does.
    checkback.schedules.start();
    await syncSettings();
    syncTimer = setInterval(() => void syncSettings(), SETTINGS_SYNC_MS);
    syncTimer.unref();
  });
  app.addHook("preClose", async () => {
    // Before the listener closes: waiting claims answer now instead of holding the close up.
    ctx.beginClose();
    clearInterval(syncTimer);
  });
  app.addHook("onClose", async () => {
    await Promise.all([push.close(), checks.close(), sweeps.close()]);
  });

  return app;
}

/** Routes marked `optionalBody` take a POST without a body as {} (a hook on those routes only). */
function acceptEmptyBodies(app: FastifyInstance): void {
  const emptyAsObject = syncHook((request) => {
    if (request.body === undefined) request.body = {};
  });
  app.addHook("onRoute", (route) => {
    if (!route.config?.optionalBody) return;
    const own =
      route.preValidation === undefined
        ? []
        : Array.isArray(route.preValidation)
          ? route.preValidation
          : [route.preValidation];
    route.preValidation = [emptyAsObject, ...own];
  });
}
