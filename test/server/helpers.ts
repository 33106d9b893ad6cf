import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Store } from "../../packages/checkback/src/stores/store.js";
import { resolveServerConfig, type ServerConfigInput } from "../../packages/server/src/http/config.js";
import { type RunningServer, startServer } from "../../packages/server/src/http/start.js";

export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A tiny HTTP client for tests: JSON in, JSON out, status kept. */
export class Api {
  constructor(
    readonly base: string,
    private readonly token?: string,
  ) {}

  as(token: string | undefined): Api {
    return new Api(this.base, token);
  }

  get<T = any>(path: string): Promise<Answer<T>> {
    return this.send("GET", path);
  }
  delete<T = any>(path: string): Promise<Answer<T>> {
    return this.send("DELETE", path);
  }
  post<T = any>(path: string, body?: unknown): Promise<Answer<T>> {
    return this.send("POST", path, body);
  }
  put<T = any>(path: string, body?: unknown): Promise<Answer<T>> {
    return this.send("PUT", path, body);
  }

  /** Sends `raw` as the body text, exactly (malformed JSON, oversize bodies). */
  async raw<T = any>(method: string, path: string, raw: string, contentType = "application/json"): Promise<Answer<T>> {
    const response = await fetch(this.base + path, {
      method,
      headers: { "content-type": contentType, ...this.auth() },
      body: raw,
    });
    return { status: response.status, body: await parse(response), headers: response.headers };
  }

  async send<T = any>(method: string, path: string, body?: unknown, init: RequestInit = {}): Promise<Answer<T>> {
    const headers: Record<string, string> = { ...this.auth() };
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(this.base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      ...init,
    });
    return { status: response.status, body: await parse(response), headers: response.headers };
  }

  private auth(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }
}

async function parse(response: Response): Promise<any> {
  const text = await response.text();
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export interface TestServer extends RunningServer {
  api: Api;
}

/** A real server listening on a free port, on a memory store unless one is given. */
export async function startTestServer(input: ServerConfigInput = {}, store?: Store): Promise<TestServer> {
  const config = resolveServerConfig({ store: "memory:", port: 0, logLevel: "silent", ...input });
  const server = await startServer(config, store ? { store } : {});
  return { ...server, api: new Api(server.url) };
}

export function uniqueQueue(prefix = "q"): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
}

/** Every job of a queue, all states: to show a refused request changed nothing. */
export async function snapshot(store: Store, queue: string): Promise<unknown> {
  const states = ["scheduled", "active", "completed", "dead", "cancelled"] as const;
  const pages = await Promise.all(states.map((state) => store.list(queue, state, { limit: 1000 })));
  return { queues: (await store.queues()).sort(), jobs: pages.map((p) => p.jobs) };
}

export interface Receiver {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** A local HTTP receiver whose behaviour the test sets per request. */
export async function startReceiver(
  handle: (request: IncomingMessage, body: string, response: ServerResponse) => void,
  port = 0,
): Promise<Receiver> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => handle(request, Buffer.concat(chunks).toString("utf8"), response));
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}/hook`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function until<T>(probe: () => Promise<T> | T, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
