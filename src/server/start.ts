import type { FastifyInstance } from "fastify";
import { Checkback } from "../checkback.js";
import type { Store } from "../stores/store.js";
import { buildApp } from "./app.js";
import { DEFAULT_CONFIG, type ServerConfig } from "./config.js";

export interface RunningServer {
  app: FastifyInstance;
  checkback: Checkback;
  config: ServerConfig;
  /** Base URL the server listens on, e.g. http://127.0.0.1:8787 */
  url: string;
  /** Stops taking requests, ends long-polls, stops push workers (releasing their jobs), closes the store. */
  close(): Promise<void>;
}

export interface StartOptions {
  /** Use this store instead of opening `config.store` (tests; embedding). It is closed with the server. */
  store?: Store;
}

/**
 * Opens the store, builds the app and listens. `checkback serve` and `npm start` call this
 * with a config from loadServerConfig (flags, environment, config file).
 */
export async function startServer(
  config: ServerConfig = DEFAULT_CONFIG,
  options: StartOptions = {},
): Promise<RunningServer> {
  const checkback = new Checkback({ store: options.store ?? config.store, maxPayloadBytes: config.maxPayloadBytes });
  let app: FastifyInstance;
  try {
    app = await buildApp(checkback, config);
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await checkback.close().catch(() => {});
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
        await app.close();
        await checkback.close();
      })();
      return closing;
    },
  };
}
