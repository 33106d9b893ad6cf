import { type Command, InvalidArgumentError, Option } from "commander";
import { CliError } from "../errors.js";

interface ServeOptions {
  port?: number;
  host?: string;
  store?: string;
  config?: string;
  tokens?: string;
  logLevel?: string;
  bodyLimit?: string;
  maxPayloadBytes?: string;
  maxWait?: string;
  queues?: string;
  pushSecret?: string;
  docs: boolean;
  ui: boolean;
  requestTimeout?: string;
  headersTimeout?: string;
  keepAliveTimeout?: string;
  maxConnections?: string;
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
    .option("--body-limit <size>", 'largest request body: bytes, "256kb", "1mb" (default 1mb)')
    .option("--max-payload-bytes <size>", "largest payload of one job (default 256kb)")
    .option("--max-wait <duration>", "longest claim long-poll, at most 30s (default 30s)")
    .option("--queues <names>", "only these queues exist, comma-separated (default: any valid name)")
    .option("--push-secret <secret>", "signing secret for push targets registered without one (default: random)")
    .option("--no-docs", "do not serve the /docs page")
    .option("--no-ui", "do not serve the dashboard at /ui")
    .option("--request-timeout <duration>", "longest time to receive a whole request (default 30s)")
    .option("--headers-timeout <duration>", "longest time to receive the request headers (default 10s)")
    .option("--keep-alive-timeout <duration>", "how long an idle connection stays open (default 72s)")
    .option("--max-connections <n>", "most connections open at once (default 1024)")
    .addHelpText(
      "after",
      `
Settings come from (lowest to highest) built-in defaults, the config file, CHECKBACK_*
environment variables (CHECKBACK_PORT, CHECKBACK_STORE, CHECKBACK_TOKENS, …) and these flags.
The server's tokens are --tokens / CHECKBACK_TOKENS; --token and CHECKBACK_TOKEN are the
client commands' bearer token, and serve refuses --token rather than start an open server.
SIGINT or SIGTERM shuts down gracefully: in-flight requests finish, waiting claims answer,
push deliveries release their jobs, then the store closes; a second signal exits at once.

Examples:
  $ checkback serve
  $ checkback serve --port 9000 --store postgres://app@db/queue --tokens "$TOKENS"
  $ checkback serve --port 0 --store memory: --log-level warn`,
    )
    .action(async (options: ServeOptions, command: Command) => {
      refuseClientToken(command);
      // Loaded here so client commands do not pay for the server's dependencies at start-up.
      const { loadServerConfig } = await import("../../http/config.js");
      const { startServer } = await import("../../http/start.js");
      const config = loadServerConfig({ flags: flagsOf(options, command) });
      const server = await startServer(config).catch((error: Error & { code?: string }) => {
        // Fail fast and for good: a store left half-open (a Redis client reconnecting) would
        // otherwise keep the process alive after the message.
        process.stderr.write(`error: ${error.code ?? "INTERNAL"}: ${error.message}\n`);
        process.exit(1);
      });
      if (config.tokens.length === 0 && process.env.CHECKBACK_TOKEN) {
        process.stderr.write(
          "warning: CHECKBACK_TOKEN is the client commands' token and does not protect this server; " +
            "set CHECKBACK_TOKENS or --tokens\n",
        );
      }
      process.stderr.write(`checkback listening on ${server.url} (store: ${server.checkback.store.kind})\n`);
      stopOnSignals(server);
    });
}

/**
 * `serve --token x:admin` reads like securing the server, but --token is the global option
 * the client commands send as their bearer token: starting anyway would leave the API open.
 */
function refuseClientToken(command: Command): void {
  if (command.parent?.getOptionValueSource("token") === "cli") {
    throw new CliError(
      "USAGE",
      '--token is the client commands\' bearer token and does not protect a server; give the server its tokens with --tokens "tok:scope,scope;…" or CHECKBACK_TOKENS',
      2,
    );
  }
}

function flagsOf(options: ServeOptions, command: Command) {
  return {
    ...(options.port !== undefined && { port: options.port }),
    ...(options.host !== undefined && { host: options.host }),
    ...(options.store !== undefined && { store: options.store }),
    ...(options.config !== undefined && { config: options.config }),
    ...(options.tokens !== undefined && { tokens: options.tokens }),
    ...(options.logLevel !== undefined && { logLevel: options.logLevel }),
    ...(options.bodyLimit !== undefined && { bodyLimit: options.bodyLimit }),
    ...(options.maxPayloadBytes !== undefined && { maxPayloadBytes: options.maxPayloadBytes }),
    ...(options.maxWait !== undefined && { maxWait: options.maxWait }),
    ...(options.queues !== undefined && { queues: options.queues }),
    ...(options.pushSecret !== undefined && { pushSecret: options.pushSecret }),
    // --no-docs only turns docs off; its implicit default must not override CHECKBACK_DOCS or the file.
    ...(command.getOptionValueSource("docs") === "cli" && { docs: options.docs }),
    ...(command.getOptionValueSource("ui") === "cli" && { ui: options.ui }),
    ...(options.requestTimeout !== undefined && { requestTimeout: options.requestTimeout }),
    ...(options.headersTimeout !== undefined && { headersTimeout: options.headersTimeout }),
    ...(options.keepAliveTimeout !== undefined && { keepAliveTimeout: options.keepAliveTimeout }),
    ...(options.maxConnections !== undefined && { maxConnections: options.maxConnections }),
  };
}

/**
 * The server's one shutdown behaviour (`checkback serve`, and so `npm start`): the first signal
 * shuts down gracefully; a second one exits at once (a stuck shutdown).
 */
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
