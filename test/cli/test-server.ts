import { randomBytes } from "node:crypto";
import { resolveServerConfig, type ServerConfigInput } from "../../packages/server/src/http/config.js";
import { startServer } from "../../packages/server/src/http/start.js";

export interface TestServer {
  url: string;
  close(): Promise<void>;
}

/** A real checkback server on a free port with a memory store, quiet unless a test fails. */
export async function startTestServer(config: ServerConfigInput = {}): Promise<TestServer> {
  const server = await startServer(
    resolveServerConfig({ host: "127.0.0.1", port: 0, store: "memory:", logLevel: "silent", ...config }),
  );
  return { url: server.url, close: () => server.close() };
}

/** Each test works in a queue of its own, so tests sharing a server never see each other's jobs. */
export function uniqueQueue(prefix = "cli"): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}
