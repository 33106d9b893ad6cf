import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { type Duration, invalidOption, parseDuration } from "checkback";
import { DEFAULT_MAX_PAYLOAD_BYTES, DEFAULT_STORE_URL, rejectUnknown, validateQueueName } from "checkback/internal";
import { parseTokens, type TokenGrant, validateGrant } from "./auth.js";
import { isReservedQueue } from "./reserved.js";

/**
 * Server configuration, merged from (lowest to highest precedence) built-in defaults, an
 * optional JSON config file, CHECKBACK_* environment variables and command-line flags.
 */
export interface ServerConfig {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** Store URL: sqlite:<path> (default), memory:, redis://…, postgres://… */
  store: string;
  /** Empty: no authentication (the server warns loudly at start). */
  tokens: TokenGrant[];
  /** Largest request body, bytes (bulk adds carry many payloads). */
  bodyLimit: number;
  /** Largest serialized payload of one job, bytes. */
  maxPayloadBytes: number;
  /** Upper bound of a claim's long-poll `wait`. */
  maxWaitMs: number;
  logLevel: string;
  /** When set, only these queues exist; any other name is 404 UNKNOWN_QUEUE. */
  queues: string[] | null;
  /** Secret for push targets registered without one; null: each gets a random secret. */
  pushSecret: string | null;
  /** Serve /docs (the OpenAPI document at /openapi.json is always served). */
  docs: boolean;
  /** Serve the dashboard at /ui. */
  ui: boolean;
  /**
   * Longest time a client may take to send a whole request (headers and body); a slower one is
   * answered 408 and disconnected. It ends when the request is received, so a claim's long-poll
   * (up to maxWait) is not cut by it.
   */
  requestTimeoutMs: number;
  /** Longest time a client may take to send the request headers (≤ requestTimeoutMs). */
  headersTimeoutMs: number;
  /** How long an idle keep-alive connection stays open between requests. */
  keepAliveTimeoutMs: number;
  /** Most connections open at once; further ones are closed as they arrive. */
  maxConnections: number;
}

/** What callers may give: every field optional, sizes and durations in their human forms. */
export interface ServerConfigInput {
  host?: string;
  port?: number | string;
  store?: string;
  tokens?: string | TokenGrant[];
  bodyLimit?: number | string;
  maxPayloadBytes?: number | string;
  maxWait?: Duration;
  logLevel?: string;
  queues?: string | string[] | null;
  pushSecret?: string | null;
  docs?: boolean;
  ui?: boolean;
  requestTimeout?: Duration;
  headersTimeout?: Duration;
  keepAliveTimeout?: Duration;
  maxConnections?: number | string;
}

export const DEFAULT_PORT = 8787;
const MAX_WAIT_CEILING_MS = 30_000;
const MAX_TIMEOUT_MS = 3_600_000;
const CONFIG_FILE_NAME = "checkback.config.json";
const INPUT_NAMES = new Set([
  "host",
  "port",
  "store",
  "tokens",
  "bodyLimit",
  "maxPayloadBytes",
  "maxWait",
  "logLevel",
  "queues",
  "pushSecret",
  "docs",
  "ui",
  "requestTimeout",
  "headersTimeout",
  "keepAliveTimeout",
  "maxConnections",
]);
const LOG_LEVELS = new Set(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

export const DEFAULT_CONFIG: ServerConfig = {
  host: "127.0.0.1",
  port: DEFAULT_PORT,
  store: DEFAULT_STORE_URL,
  tokens: [],
  bodyLimit: 1024 * 1024,
  maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES,
  maxWaitMs: MAX_WAIT_CEILING_MS,
  logLevel: "info",
  queues: null,
  pushSecret: null,
  docs: true,
  ui: true,
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  // Above the 60 s idle timeout of common load balancers, so they never reuse a closed connection.
  keepAliveTimeoutMs: 72_000,
  maxConnections: 1024,
};

/** Applies `input` over `base` (defaults unless given), validating every field. */
export function resolveServerConfig(input: ServerConfigInput = {}, base: ServerConfig = DEFAULT_CONFIG): ServerConfig {
  if (typeof input !== "object" || input === null) throw invalidOption("server config must be an object");
  rejectUnknown(input, INPUT_NAMES, "server config");
  const config = { ...base };
  if (input.host !== undefined) {
    if (typeof input.host !== "string" || input.host === "") throw invalidOption("host must be a non-empty string");
    config.host = input.host;
  }
  if (input.port !== undefined) config.port = parsePort(input.port);
  if (input.store !== undefined) {
    if (typeof input.store !== "string" || input.store === "") throw invalidOption("store must be a store URL");
    config.store = input.store;
  }
  if (input.tokens !== undefined) {
    config.tokens =
      typeof input.tokens === "string"
        ? parseTokens(input.tokens)
        : Array.isArray(input.tokens)
          ? input.tokens.map(validateGrant)
          : invalidTokens();
    // An empty setting (`--tokens "$TOKENS"` with TOKENS unset) reads like securing the server
    // but would leave it open: refused. Leave the setting out for an open server.
    if (config.tokens.length === 0) {
      throw invalidOption('tokens is empty: give at least one "token:scope" or leave the setting out for an open API');
    }
  }
  if (input.bodyLimit !== undefined) config.bodyLimit = parseBytes(input.bodyLimit, "bodyLimit");
  if (input.maxPayloadBytes !== undefined)
    config.maxPayloadBytes = parseBytes(input.maxPayloadBytes, "maxPayloadBytes");
  if (input.maxWait !== undefined) {
    config.maxWaitMs = parseDuration(input.maxWait, "maxWait");
    if (config.maxWaitMs > MAX_WAIT_CEILING_MS) throw invalidOption("maxWait is at most 30s");
  }
  if (input.logLevel !== undefined) {
    if (!LOG_LEVELS.has(input.logLevel)) throw invalidOption(`logLevel is one of ${[...LOG_LEVELS].join(", ")}`);
    config.logLevel = input.logLevel;
  }
  if (input.queues !== undefined) config.queues = parseQueues(input.queues);
  if (input.pushSecret !== undefined) {
    if (input.pushSecret !== null && (typeof input.pushSecret !== "string" || input.pushSecret.length < 16)) {
      throw invalidOption("pushSecret must be at least 16 characters");
    }
    config.pushSecret = input.pushSecret;
  }
  if (input.docs !== undefined) {
    if (typeof input.docs !== "boolean") throw invalidOption("docs must be true or false");
    config.docs = input.docs;
  }
  if (input.ui !== undefined) {
    if (typeof input.ui !== "boolean") throw invalidOption("ui must be true or false");
    config.ui = input.ui;
  }
  if (input.requestTimeout !== undefined)
    config.requestTimeoutMs = parseTimeout(input.requestTimeout, "requestTimeout");
  if (input.headersTimeout !== undefined)
    config.headersTimeoutMs = parseTimeout(input.headersTimeout, "headersTimeout");
  if (input.keepAliveTimeout !== undefined) {
    config.keepAliveTimeoutMs = parseTimeout(input.keepAliveTimeout, "keepAliveTimeout");
  }
  if (input.maxConnections !== undefined) config.maxConnections = parseMaxConnections(input.maxConnections);
  if (config.headersTimeoutMs > config.requestTimeoutMs) {
    throw invalidOption("headersTimeout must not exceed requestTimeout (the headers are part of the request)");
  }
  if (config.maxPayloadBytes > config.bodyLimit) {
    throw invalidOption("maxPayloadBytes must not exceed bodyLimit (a payload travels inside a request body)");
  }
  return config;
}

export interface ConfigSources {
  /** Flags parsed by `checkback serve`. */
  flags?: ServerConfigInput & { config?: string };
  env?: Record<string, string | undefined>;
  cwd?: string;
}

/** defaults < config file < environment < flags. */
export function loadServerConfig(sources: ConfigSources = {}): ServerConfig {
  const env = sources.env ?? process.env;
  const cwd = sources.cwd ?? process.cwd();
  const { config: flagConfigPath, ...flags } = sources.flags ?? {};
  const configPath = flagConfigPath ?? env.CHECKBACK_CONFIG;
  let config = resolveServerConfig(readConfigFile(configPath, cwd));
  config = resolveServerConfig(fromEnv(env), config);
  return resolveServerConfig(flags, config);
}

function readConfigFile(path: string | undefined, cwd: string): ServerConfigInput {
  const file = resolve(cwd, path ?? CONFIG_FILE_NAME);
  if (path === undefined && !existsSync(file)) return {};
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw invalidOption(`cannot read config file ${file}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as ServerConfigInput;
  } catch (error) {
    throw invalidOption(`config file ${file} is not valid JSON: ${(error as Error).message}`);
  }
}

function fromEnv(env: Record<string, string | undefined>): ServerConfigInput {
  const input: ServerConfigInput = {};
  const take = (name: string) => {
    const value = env[name];
    return value === undefined || value === "" ? undefined : value;
  };
  const assign = <K extends keyof ServerConfigInput>(key: K, value: ServerConfigInput[K] | undefined) => {
    if (value !== undefined) input[key] = value;
  };
  assign("host", take("CHECKBACK_HOST"));
  assign("port", take("CHECKBACK_PORT"));
  assign("store", take("CHECKBACK_STORE"));
  assign("tokens", take("CHECKBACK_TOKENS"));
  assign("bodyLimit", take("CHECKBACK_BODY_LIMIT"));
  assign("maxPayloadBytes", take("CHECKBACK_MAX_PAYLOAD_BYTES"));
  assign("maxWait", take("CHECKBACK_MAX_WAIT"));
  assign("logLevel", take("CHECKBACK_LOG_LEVEL"));
  assign("queues", take("CHECKBACK_QUEUES"));
  assign("pushSecret", take("CHECKBACK_PUSH_SECRET"));
  assign("requestTimeout", take("CHECKBACK_REQUEST_TIMEOUT"));
  assign("headersTimeout", take("CHECKBACK_HEADERS_TIMEOUT"));
  assign("keepAliveTimeout", take("CHECKBACK_KEEP_ALIVE_TIMEOUT"));
  assign("maxConnections", take("CHECKBACK_MAX_CONNECTIONS"));
  const docs = take("CHECKBACK_DOCS");
  if (docs !== undefined) input.docs = !/^(0|false|no|off)$/i.test(docs);
  const ui = take("CHECKBACK_UI");
  if (ui !== undefined) input.ui = !/^(0|false|no|off)$/i.test(ui);
  return input;
}

function parsePort(value: unknown): number {
  const port = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw invalidOption("port must be an integer from 0 to 65535", { port: value });
  }
  return port;
}

/** A connection timeout: a positive duration (0 would mean "never", which is what these settings exist to prevent). */
function parseTimeout(value: Duration, what: string): number {
  const ms = parseDuration(value, what);
  if (ms < 1 || ms > MAX_TIMEOUT_MS) throw invalidOption(`${what} must be from 1ms to 1h`, { [what]: value });
  return ms;
}

function parseMaxConnections(value: unknown): number {
  const count = typeof value === "string" && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof count !== "number" || !Number.isInteger(count) || count < 1 || count > 1_000_000) {
    throw invalidOption("maxConnections must be an integer from 1 to 1000000", { maxConnections: value });
  }
  return count;
}

const BYTE_UNITS: Record<string, number> = { "": 1, b: 1, kb: 1024, mb: 1024 * 1024 };

/** 1048576, "1048576", "256kb", "1mb". */
export function parseBytes(value: unknown, what: string): number {
  const match = typeof value === "string" ? /^\s*(\d+)\s*(b|kb|mb)?\s*$/i.exec(value) : null;
  const bytes = match ? Number(match[1]) * BYTE_UNITS[(match[2] ?? "").toLowerCase()]! : value;
  if (typeof bytes !== "number" || !Number.isInteger(bytes) || bytes < 2 || bytes > 1024 * 1024 * 1024) {
    throw invalidOption(`${what} must be a size in bytes (e.g. 1048576, "256kb", "1mb")`, { [what]: value });
  }
  return bytes;
}

function parseQueues(value: unknown): string[] | null {
  if (value === null) return null;
  const names =
    typeof value === "string"
      ? value
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean)
      : value;
  if (!Array.isArray(names)) throw invalidOption("queues must be a list of queue names");
  if (names.length === 0) return null;
  return names.map((name) => refuseReservedInConfig(validateQueueName(name)));
}

/** A reserved queue is never served (see reserved.ts): listing one is a mistake, said at start. */
function refuseReservedInConfig(name: string): string {
  if (isReservedQueue(name))
    throw invalidOption(`queue ${JSON.stringify(name)} is reserved and cannot be served`, { name });
  return name;
}

function invalidTokens(): never {
  throw invalidOption('tokens must be "token:scope,scope;…" or a list of { token, scopes }');
}
