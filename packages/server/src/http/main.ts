#!/usr/bin/env node
/**
 * `npm start`: runs the server with configuration from flags, CHECKBACK_* environment variables
 * and an optional checkback.config.json; with nothing set, an embedded SQLite store at
 * ./checkback.db on http://127.0.0.1:8787.
 */
import { loadServerConfig } from "./config.js";
import { startServer } from "./start.js";

async function main(): Promise<void> {
  const config = loadServerConfig({ argv: process.argv.slice(2) });
  const server = await startServer(config);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      server.app.log.warn(`${signal} again: exiting without waiting`);
      process.exit(1);
    }
    stopping = true;
    server.app.log.info(`${signal}: shutting down`);
    server.close().then(
      () => process.exit(0),
      (err) => {
        server.app.log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

main().catch((error: Error) => {
  // Exit at once: a store left half-open (a Redis client reconnecting) would keep the process alive.
  console.error(`checkback server: ${error.message}`);
  process.exit(1);
});
