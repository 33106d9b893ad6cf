import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, loadServerConfig, resolveServerConfig } from "../../packages/server/src/http/config.js";
import { startTestServer, type TestServer, uniqueQueue } from "./helpers.js";

/** A raw connection: what it received and when the server closed it. */
interface RawConnection {
  socket: Socket;
  received: () => string;
  closed: Promise<number>;
}

function open(url: string): Promise<RawConnection> {
  const { port } = new URL(url);
  const opened = Date.now();
  const socket = connect(Number(port), "127.0.0.1");
  let received = "";
  socket.setEncoding("utf8").on("data", (chunk: string) => {
    received += chunk;
  });
  socket.on("error", () => {});
  const closed = new Promise<number>((resolve) => socket.on("close", () => resolve(Date.now() - opened)));
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve({ socket, received: () => received, closed }));
    socket.once("error", reject);
  });
}

/** Writes `text` one byte at a time, `intervalMs` apart, until it is all sent or the socket closes. */
function trickle(socket: Socket, text: string, intervalMs: number): void {
  let at = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || at >= text.length) {
      clearInterval(timer);
      return;
    }
    socket.write(text[at++]!);
  }, intervalMs);
}

function bodyOf(response: string): unknown {
  return JSON.parse(response.slice(response.indexOf("\r\n\r\n") + 4));
}

const REQUEST_TIMEOUT_MS = 600;
const HEADERS_TIMEOUT_MS = 300;
/** Node checks for overdue requests on an interval; allow for it and a loaded machine. */
const SLACK_MS = 1_500;

describe("slow clients and connection limits", { timeout: 30_000 }, () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({
      requestTimeout: `${REQUEST_TIMEOUT_MS}ms`,
      headersTimeout: `${HEADERS_TIMEOUT_MS}ms`,
      maxConnections: 8,
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("answers a body sent one byte every 200 ms with 408 REQUEST_TIMEOUT and closes the connection", async () => {
    const queue = uniqueQueue("slow");
    const body = JSON.stringify({ payload: { padding: "x".repeat(40) } });
    const connections = await Promise.all(Array.from({ length: 4 }, () => open(server.url)));
    for (const { socket } of connections) {
      socket.write(
        `POST /v1/queues/${queue}/jobs HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      trickle(socket, body, 200);
    }
    for (const connection of connections) {
      const elapsed = await connection.closed;
      expect(elapsed).toBeLessThan(REQUEST_TIMEOUT_MS + SLACK_MS);
      expect(connection.received()).toMatch(/^HTTP\/1\.1 408 /);
      expect(bodyOf(connection.received())).toEqual({
        error: { code: "REQUEST_TIMEOUT", message: "the request was not received in time" },
      });
    }
    expect((await server.api.get(`/v1/queues/${queue}/counts`)).body.scheduled).toBe(0);
  });

  it("closes a connection whose headers arrive one byte every 200 ms", async () => {
    const connection = await open(server.url);
    trickle(connection.socket, "GET /healthz HTTP/1.1\r\nHost: test\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa\r\n\r\n", 200);
    const elapsed = await connection.closed;
    expect(elapsed).toBeLessThan(REQUEST_TIMEOUT_MS + SLACK_MS);
    expect(connection.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it("lets a long-poll claim wait longer than the request timeout and answers it normally", async () => {
    const queue = uniqueQueue("poll");
    const started = Date.now();
    const claim = server.api.post(`/v1/queues/${queue}/claim`, { wait: REQUEST_TIMEOUT_MS * 4 });
    // The job arrives well after the request timeout would have struck.
    setTimeout(() => void server.api.post(`/v1/queues/${queue}/jobs`, { payload: "late" }), REQUEST_TIMEOUT_MS * 2);
    const answer = await claim;
    expect(answer.status).toBe(200);
    expect(answer.body.jobs.map((job: { payload: unknown }) => job.payload)).toEqual(["late"]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS * 2);

    const empty = Date.now();
    const nothing = await server.api.post(`/v1/queues/${queue}/claim`, { wait: REQUEST_TIMEOUT_MS * 2 });
    expect(nothing).toMatchObject({ status: 200, body: { jobs: [] } });
    expect(Date.now() - empty).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS * 2 - 50);
  });

  it("closes connections beyond maxConnections as they arrive", async () => {
    const held = await Promise.all(Array.from({ length: 8 }, () => open(server.url)));
    try {
      // Each of these counts against the cap until the server times it out.
      for (const { socket } of held) socket.write("GET /healthz HTTP/1.1\r\n");
      const extra = await open(server.url);
      extra.socket.write("GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n");
      expect(await extra.closed).toBeLessThan(HEADERS_TIMEOUT_MS);
      expect(extra.received()).toBe("");
    } finally {
      for (const { socket } of held) socket.destroy();
    }
    // Once they are gone, new connections are served again.
    const until = Date.now() + 5_000;
    for (;;) {
      const health = await server.api.get("/healthz").catch(() => null);
      if (health?.status === 200) break;
      if (Date.now() > until) throw new Error("the server did not take connections again");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
});

describe("errors outside the routes keep the documented shape", { timeout: 30_000 }, () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it("answers a bad percent-encoding in the path with 400 INVALID_URL", async () => {
    for (const path of ["/v1/queues/%FF/jobs", "/v1/queues/q/keys/%E0%A4%A", "/v1/queues/q/jobs/%"]) {
      const answer = await server.api.get(path);
      expect(answer.status, path).toBe(400);
      expect(answer.body, path).toEqual({
        error: { code: "INVALID_URL", message: "the path is not valid percent-encoded UTF-8" },
      });
    }
  });

  it("routes a path parameter as long as the longest key and answers a longer one with 414 URI_TOO_LONG", async () => {
    const queue = uniqueQueue("long");
    // The longest valid keys, percent-encoded: 4608 and 1536 characters in the URL.
    for (const key of ["€".repeat(512), "/".repeat(512)]) {
      const answer = await server.api.get(`/v1/queues/${queue}/keys/${encodeURIComponent(key)}`);
      expect(answer.body.error.code).toBe("JOB_NOT_FOUND");
    }
    const tooLong = await server.api.get(`/v1/queues/${queue}/keys/${"x".repeat(512 * 3 + 1)}`);
    expect(tooLong.status).toBe(414);
    expect(tooLong.body).toEqual({
      error: { code: "URI_TOO_LONG", message: "a path segment is longer than the server accepts" },
    });
  });

  it("refuses a body nested deeper than 512 levels with 400 INVALID_REQUEST, before any route runs", async () => {
    const queue = uniqueQueue("deep");
    const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
    // The body itself is one level: a payload of 511 more fits, 512 more does not.
    const fits = await server.api.raw("POST", `/v1/queues/${queue}/jobs`, `{"payload":${nested(511)}}`);
    expect(fits.status).toBe(201);
    for (const depth of [512, 4_000, 100_000]) {
      const refused = await server.api.raw("POST", `/v1/queues/${queue}/jobs`, `{"payload":${nested(depth)}}`);
      expect(refused.status, String(depth)).toBe(400);
      expect(refused.body, String(depth)).toEqual({
        error: { code: "INVALID_REQUEST", message: "the body nests deeper than 512 levels" },
      });
    }
    const backoff = `{"payload":1,"backoff":${"[".repeat(5_000)}"1s"${"]".repeat(5_000)}}`;
    expect((await server.api.raw("POST", `/v1/queues/${queue}/jobs`, backoff)).body.error.code).toBe("INVALID_REQUEST");
    expect((await server.api.get(`/v1/queues/${queue}/counts`)).body.scheduled).toBe(1);
  });

  it("answers unparsable HTTP with 400 MALFORMED_REQUEST and oversized headers with 431 HEADERS_TOO_LARGE", async () => {
    const malformed = await open(server.url);
    malformed.socket.write("GET /healthz HTTP/1.1\r\nHost: test\r\nBad Header Line\r\n\r\n");
    await malformed.closed;
    expect(malformed.received()).toMatch(/^HTTP\/1\.1 400 /);
    expect(bodyOf(malformed.received())).toEqual({
      error: { code: "MALFORMED_REQUEST", message: "the request is not valid HTTP/1.1" },
    });

    const huge = await open(server.url);
    huge.socket.write(`GET /healthz HTTP/1.1\r\nHost: test\r\nX-Big: ${"x".repeat(64 * 1024)}\r\n\r\n`);
    await huge.closed;
    expect(huge.received()).toMatch(/^HTTP\/1\.1 431 /);
    expect((bodyOf(huge.received()) as { error: { code: string } }).error.code).toBe("HEADERS_TOO_LARGE");
  });
});

describe("connection settings", () => {
  it("bounds every connection by default and reads the settings from file, environment and flags", () => {
    expect(DEFAULT_CONFIG).toMatchObject({
      requestTimeoutMs: 30_000,
      headersTimeoutMs: 10_000,
      keepAliveTimeoutMs: 72_000,
      maxConnections: 1024,
    });
    const config = loadServerConfig({
      env: { CHECKBACK_REQUEST_TIMEOUT: "2m", CHECKBACK_MAX_CONNECTIONS: "50" },
      flags: { headersTimeout: "5s", keepAliveTimeout: "1500" },
      cwd: "/nonexistent-dir-for-config",
    });
    expect(config).toMatchObject({
      requestTimeoutMs: 120_000,
      headersTimeoutMs: 5_000,
      keepAliveTimeoutMs: 1_500,
      maxConnections: 50,
    });
  });

  it("refuses settings that would leave a connection unbounded", () => {
    expect(() => resolveServerConfig({ requestTimeout: 0 })).toThrow(/requestTimeout must be from 1ms to 1h/);
    expect(() => resolveServerConfig({ maxConnections: 0 })).toThrow(/maxConnections must be an integer/);
    expect(() => resolveServerConfig({ requestTimeout: "5s", headersTimeout: "10s" })).toThrow(
      /headersTimeout must not exceed requestTimeout/,
    );
  });
});
