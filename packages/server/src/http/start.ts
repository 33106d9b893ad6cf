import type { Store } from "checkback";
import { Checkback, openStore } from "checkback";
import type { FastifyInstance } from "fastify";
import { buildApp } from "./app.js";
import { DEFAULT_CONFIG, type ServerConfig } from "./config.js";
import { DEFAULT_STORE_DEADLINE_MS, guardStore } from "./store/guard.js";
import { checkStoreAtStart } from "./store/probe.js";

export interface RunningServer {
  app: FastifyInstance;
  checkback: Checkback;
  config: ServerConfig;
  /** Base URL the server listens on, e.g. http://127.0.0.1:8787 */
  url: string;
  /**
   * Stops taking requests, ends long-polls, stops push workers (releasing their jobs), closes
   * the store. Each step is bounded, so a store that is down cannot hold the shutdown up.
   */
  close(): Promise<void>;
}

export interface StartOptions {
  /** Use this store instead of opening `config.store` (tests; embedding). It is closed with the server. */
  store?: Store;
  /** Longest a store call made by the server may take before it is answered 503 STORE_UNAVAILABLE. */
  storeDeadlineMs?: number;
  /** Where log lines go instead of stdout (tests read them). */
  logStream?: { write(line: string): void };
}

/** How long a shutdown waits for in-flight requests and push deliveries, then for the store to close. */
const CLOSE_HTTP_MS = 2_000;
const CLOSE_STORE_MS = 1_000;

/**
 * Opens the store, checks that it can be written (failing fast with a message naming it when
 * not), builds the app and listens. `checkback serve` (which `npm start` runs) calls this with a
 * config from loadServerConfig (flags, environment, config file).
 */
export async function startServer(
  config: ServerConfig = DEFAULT_CONFIG,
  options: StartOptions = {},
): Promise<RunningServer> {
  const opened = options.store ?? openStore(config.store);
  const { store, health } = guardStore(opened, options.storeDeadlineMs ?? DEFAULT_STORE_DEADLINE_MS);
  const checkback = new Checkback({ store, maxPayloadBytes: config.maxPayloadBytes });
  let app: FastifyInstance;
  try {
    await checkStoreAtStart(store, options.store ? store.kind : config.store);
    app = await buildApp(checkback, config, {
      storeHealth: health,
      ...(options.logStream ? { logStream: options.logStream } : {}),
    });
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await within(checkback.close(), CLOSE_STORE_MS).catch(() => {});
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  const url = `http://${host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host}:${port}`;
  app.log.info({ url, store: checkback.store.kind }, "checkback server listening");
  let closing: Promise<void> | null = null;
  return {
    app,
    checkback,
    config,
    url,
    close() {
      closing ??= (async () => {
        let failure: unknown;
        try {
          if (!(await within(app.close(), CLOSE_HTTP_MS))) {
            app.log.warn(`requests still running after ${CLOSE_HTTP_MS} ms of shutdown: closing their connections`);
            app.server.closeAllConnections();
          }
        } catch (error) {
          failure = error;
        }
        try {
          if (!(await within(checkback.close(), CLOSE_STORE_MS))) {
            app.log.warn(`the store did not close within ${CLOSE_STORE_MS} ms: leaving it`);
          }
        } catch (error) {
          failure ??= error;
        }
        if (failure !== undefined) throw failure;
      })();
      return closing;
    },
  };
}

/** Waits for `step` at most `ms`: true if it finished, false if it is still running; rethrows its failure. */
async function within(step: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([step.then(() => true), expired]);
  } finally {
    clearTimeout(timer);
    step.catch(() => {});
  }
}
