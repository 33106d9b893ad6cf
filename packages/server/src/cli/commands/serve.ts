import { type Command, InvalidArgumentError, Option } from "commander";

interface ServeOptions {
  port?: number;
  host?: string;
  store?: string;
  config?: string;
  tokens?: string;
  logLevel?: string;
}

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("run a checkback server in the foreground")
    .addOption(
      new Option("-p, --port <port>", "port to listen on; 0 picks a free one (default 8787)").argParser(portArg),
    )
    .option("--host <host>", "address to listen on (default 127.0.0.1)")
    .option("--store <url>", "store: sqlite:<path> (default sqlite:./checkback.db), memory:, redis://…, postgres://…")
    .option("-c, --config <file>", "JSON config file (default ./checkback.config.json when present)")
    .option("--tokens <grants>", 'API tokens with scopes, "tokA:produce,consume;tokB:admin" (default: open API)')
    .option("--log-level <level>", "fatal, error, warn, info, debug, trace or silent")
    .addHelpText(
      "after",
      `
Settings come from (lowest to highest) built-in defaults, the config file, CHECKBACK_*
environment variables (CHECKBACK_PORT, CHECKBACK_STORE, CHECKBACK_TOKENS, …) and these flags.
SIGINT or SIGTERM shuts down gracefully: in-flight requests finish, waiting claims answer,
push deliveries release their jobs, then the store closes.

Examples:
  $ checkback serve
  $ checkback serve --port 9000 --store postgres://app@db/queue --tokens "$TOKENS"
  $ checkback serve --port 0 --store memory: --log-level warn`,
    )
    .action(async (options: ServeOptions) => {
      // Loaded here so client commands do not pay for the server's dependencies at start-up.
      const { loadServerConfig } = await import("../../http/config.js");
      const { startServer } = await import("../../http/start.js");
      const config = loadServerConfig({ flags: flagsOf(options) });
      const server = await startServer(config).catch((error: Error & { code?: string }) => {
        // Fail fast and for good: a store left half-open (a Redis client reconnecting) would
        // otherwise keep the process alive after the message.
        process.stderr.write(`error: ${error.code ?? "INTERNAL"}: ${error.message}\n`);
        process.exit(1);
      });
      process.stderr.write(`checkback listening on ${server.url} (store: ${server.checkback.store.kind})\n`);
      stopOnSignals(server);
    });
}

function flagsOf(options: ServeOptions) {
  return {
    ...(options.port !== undefined && { port: options.port }),
    ...(options.host !== undefined && { host: options.host }),
    ...(options.store !== undefined && { store: options.store }),
    ...(options.config !== undefined && { config: options.config }),
    ...(options.tokens !== undefined && { tokens: options.tokens }),
    ...(options.logLevel !== undefined && { logLevel: options.logLevel }),
  };
}

/** The first signal shuts down gracefully; a second one exits at once (a stuck shutdown). */
function stopOnSignals(server: { close(): Promise<void> }): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`${signal} again: exiting without waiting\n`);
      process.exit(1);
    }
    stopping = true;
    process.stderr.write(`${signal}: shutting down\n`);
    server.close().then(
      () => process.exit(0),
      (error: Error) => {
        process.stderr.write(`error: SHUTDOWN_FAILED: ${error.message}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

function portArg(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65_535) throw new InvalidArgumentError("must be a port number from 0 to 65535");
  return port;
}
