import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { AddedJob, ApiJob } from "../../packages/client/src/client.js";
import { CHECKBACK_BIN, parseJson, runCli } from "./run-cli.js";

interface Served {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

const children = new Set<ChildProcess>();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "checkback-serve-"));
});

afterEach(() => {
  for (const child of children) child.kill("SIGKILL");
  children.clear();
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs `checkback serve …` and waits for the line that says where it listens. */
function serve(args: string[], extraEnv: Record<string, string> = {}): Promise<Served> {
  // A clean environment and an empty working directory: no CHECKBACK_* variable or
  // checkback.config.json of the developer's may change what the test starts.
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("CHECKBACK_"))),
    ...extraEnv,
  };
  const child = spawn(process.execPath, [CHECKBACK_BIN, "serve", ...args], {
    cwd: dir,
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  children.add(child);
  let stderr = "";
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      const match = /checkback listening on (\S+) \(store: (\w+)\)/.exec(stderr);
      if (match) resolve({ child, url: match[1]!, stderr: () => stderr, exited });
    });
    void exited.then((code) => reject(new Error(`serve exited with ${code} before listening:\n${stderr}`)));
  });
}

describe("checkback serve", { timeout: 60_000 }, () => {
  it("serves the API until SIGTERM, then shuts down cleanly", async () => {
    const server = await serve(["--port", "0", "--store", "memory:", "--log-level", "silent"]);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const added = await runCli(["add", "-q", "served", '{"hello":"world"}', "--json"], { url: server.url });
    expect(added.code, added.stderr).toBe(0);
    const stats = await runCli(["stats", "-q", "served", "--json"], { url: server.url });
    expect(parseJson(stats)).toMatchObject({ scheduled: 1 });

    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
    expect(server.stderr()).toContain("SIGTERM: shutting down");
  });

  it("keeps jobs across restarts with a SQLite store", async () => {
    const store = `sqlite:${join(dir, "serve.db")}`;
    const first = await serve(["--port", "0", "--store", store, "--log-level", "silent"]);
    expect(first.stderr()).toContain("(store: sqlite)");
    const job = parseJson<AddedJob>(
      await runCli(["add", "-q", "durable", "42", "--delay", "1h", "--key", "k", "--json"], { url: first.url }),
    );
    first.child.kill("SIGINT");
    expect(await first.exited).toBe(0);

    const second = await serve(["--port", "0", "--store", store, "--log-level", "silent"]);
    const found = parseJson<ApiJob>(
      await runCli(["get", "-q", "durable", "--key", "k", "--json"], { url: second.url }),
    );
    expect(found).toMatchObject({ id: job.id, payload: 42, state: "scheduled", runAt: job.runAt });
    second.child.kill("SIGTERM");
    expect(await second.exited).toBe(0);
  });

  it("refuses a bad port (usage, exit 2) and a missing config file (exit 1) without starting", async () => {
    const [port, config] = await Promise.all([
      runCli(["serve", "--port", "70000"]),
      runCli(["serve", "--port", "0", "--store", "memory:", "--config", join(dir, "missing.json")]),
    ]);
    expect(port.code).toBe(2);
    expect(port.stderr).toContain("must be a port number from 0 to 65535");
    expect(config.code).toBe(1);
    expect(config.stderr).toMatch(/^error: INVALID_OPTION: cannot read config file .*missing\.json/);
  });

  it("serve --tokens protects the API; the CLI sends --token or CHECKBACK_TOKEN", async () => {
    const tokens = "producer-token-1:produce;admin-token-123:admin";
    const server = await serve(["--port", "0", "--store", "memory:", "--log-level", "silent", "--tokens", tokens]);
    const url = server.url;
    const [anonymous, wrong, produced, viaEnv, forbidden] = await Promise.all([
      runCli(["add", "-q", "locked", "1"], { url }),
      runCli(["add", "-q", "locked", "1", "--token", "not-a-real-token"], { url }),
      runCli(["add", "-q", "locked", "1", "--token", "producer-token-1", "--json"], { url }),
      runCli(["dead", "ls", "-q", "locked", "--json"], { url, env: { CHECKBACK_TOKEN: "admin-token-123" } }),
      runCli(["dead", "purge", "-q", "locked", "--all", "--yes"], {
        url,
        env: { CHECKBACK_TOKEN: "producer-token-1" },
      }),
    ]);
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toBe(
      "error: UNAUTHORIZED: send Authorization: Bearer <token>\nhint: pass --token or set CHECKBACK_TOKEN\n",
    );
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("error: UNAUTHORIZED: unknown token");
    expect(produced.code, produced.stderr).toBe(0);
    expect(parseJson<AddedJob>(produced).outcome).toBe("created");
    expect(viaEnv.code, viaEnv.stderr).toBe(0);
    expect(parseJson(viaEnv)).toEqual({ jobs: [], next: null });
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toMatch(/^error: FORBIDDEN: this token lacks the admin scope\n$/);
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
  });

  it("takes every documented option", async () => {
    const admin = "admin-token-123";
    const server = await serve([
      ...["--host", "127.0.0.1", "--port", "0", "--store", `sqlite:${join(dir, "options.db")}`],
      ...["--log-level", "silent", "--tokens", `${admin}:admin`],
      ...["--body-limit", "2kb", "--max-payload-bytes", "1kb", "--max-wait", "2s"],
      ...["--queues", "allowed,other", "--push-secret", "a-shared-push-secret", "--no-docs"],
      ...["--request-timeout", "800ms", "--headers-timeout", "400ms", "--keep-alive-timeout", "300ms"],
      ...["--max-connections", "4"],
    ]);
    const call = async (method: string, path: string, body?: unknown, raw?: string) => {
      const response = await fetch(server.url + path, {
        method,
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
        body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
      });
      const text = await response.text();
      return { status: response.status, body: text.startsWith("{") ? JSON.parse(text) : text };
    };
    expect((await call("GET", "/v1/queues")).status).toBe(200);
    expect((await fetch(`${server.url}/v1/queues`)).status).toBe(401);
    const code = (answer: { body: { error?: { code?: string } } }) => answer.body.error?.code;
    // --body-limit, then --max-payload-bytes inside a body the limit allows.
    expect(
      code(await call("POST", "/v1/queues/allowed/jobs", undefined, JSON.stringify({ payload: "x".repeat(3000) }))),
    ).toBe("BODY_TOO_LARGE");
    expect(code(await call("POST", "/v1/queues/allowed/jobs", { payload: "x".repeat(1500) }))).toBe(
      "PAYLOAD_TOO_LARGE",
    );
    expect((await call("POST", "/v1/queues/allowed/jobs", { payload: "fits" })).status).toBe(201);
    // --max-wait
    const tooLong = await call("POST", "/v1/queues/allowed/claim", { wait: "3s" });
    expect([tooLong.status, tooLong.body.error.message]).toEqual([400, "wait is at most 2000ms"]);
    // --queues
    expect(code(await call("POST", "/v1/queues/elsewhere/jobs", { payload: 1 }))).toBe("UNKNOWN_QUEUE");
    // --push-secret
    const target = await call("PUT", "/v1/queues/other/push", { url: "http://127.0.0.1:9/hook" });
    expect(target.body.secret).toBe("a-shared-push-secret");
    // --no-docs: the page is gone, the OpenAPI document stays.
    expect((await call("GET", "/docs")).status).toBe(404);
    expect((await call("GET", "/openapi.json")).status).toBe(200);

    // --request-timeout / --headers-timeout: a body sent a byte at a time is cut off with 408.
    const { port } = new URL(server.url);
    const slow = connect(Number(port), "127.0.0.1");
    let received = "";
    slow.setEncoding("utf8").on("data", (chunk: string) => {
      received += chunk;
    });
    const slowClosed = new Promise<number>((resolve) => slow.on("close", () => resolve(Date.now())));
    const started = Date.now();
    slow.write(
      `POST /v1/queues/allowed/jobs HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${admin}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n`,
    );
    const drip = setInterval(() => !slow.destroyed && slow.write(" "), 200);
    const closedAt = await slowClosed;
    clearInterval(drip);
    expect(closedAt - started).toBeLessThan(800 + 1_500);
    expect(received).toMatch(/^HTTP\/1\.1 408 /);

    // --keep-alive-timeout: an idle connection after a request is closed by the server.
    const idle = connect(Number(port), "127.0.0.1");
    const idleClosed = new Promise<number>((resolve) => idle.on("close", () => resolve(Date.now())));
    let answered = 0;
    idle.setEncoding("utf8").on("data", () => {
      answered ||= Date.now();
    });
    idle.write("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    expect((await idleClosed) - answered).toBeLessThan(300 + 1_500);
    expect(answered).toBeGreaterThan(0);

    // --max-connections: with four open, a fifth is closed unanswered.
    const held = Array.from({ length: 4 }, () => connect(Number(port), "127.0.0.1"));
    try {
      await Promise.all(held.map((socket) => new Promise((resolve) => socket.once("connect", resolve))));
      for (const socket of held) socket.write("GET /healthz HTTP/1.1\r\n");
      const extra = connect(Number(port), "127.0.0.1");
      let extraReceived = "";
      extra.on("data", (chunk) => {
        extraReceived += chunk;
      });
      extra.on("error", () => {});
      extra.write("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
      await new Promise((resolve) => extra.on("close", resolve));
      expect(extraReceived).toBe("");
    } finally {
      for (const socket of held) socket.destroy();
    }

    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
  });

  it("serves /docs unless --no-docs is given, and CHECKBACK_DOCS=false still turns it off", async () => {
    const server = await serve(["--port", "0", "--store", "memory:", "--log-level", "silent"]);
    expect((await fetch(`${server.url}/docs`)).status).toBe(200);
    server.child.kill("SIGTERM");
    await server.exited;
    const offByEnv = await serve(["--port", "0", "--store", "memory:", "--log-level", "silent"], {
      CHECKBACK_DOCS: "false",
    });
    expect((await fetch(`${offByEnv.url}/docs`)).status).toBe(404);
  });

  it("serves the dashboard at /ui unless --no-ui or CHECKBACK_UI=false turns it off", async () => {
    const server = await serve(["--port", "0", "--store", "memory:", "--log-level", "silent"]);
    const page = await fetch(`${server.url}/ui`); // redirected to /ui/
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await page.text()).toContain('<div id="app">');
    server.child.kill("SIGTERM");
    await server.exited;

    const offByFlag = await serve(["--port", "0", "--store", "memory:", "--log-level", "silent", "--no-ui"]);
    const offByEnv = await serve(["--port", "0", "--store", "memory:", "--log-level", "silent"], {
      CHECKBACK_UI: "false",
    });
    for (const off of [offByFlag, offByEnv]) {
      for (const path of ["/ui", "/ui/", "/ui/assets/index.js"]) {
        const answer = await fetch(`${off.url}${path}`, { redirect: "manual" });
        expect(answer.status, path).toBe(404);
        expect(await answer.json()).toEqual({ error: { code: "NOT_FOUND", message: `no route GET ${path}` } });
      }
      // The API itself is still served.
      expect((await fetch(`${off.url}/v1/queues`)).status).toBe(200);
    }
  });

  it("refuses --token (the client's option) and an empty --tokens instead of starting an open server", async () => {
    const [after, before, empty] = await Promise.all([
      runCli(["serve", "--port", "0", "--store", "memory:", "--token", "secret-token:admin"]),
      runCli(["--token", "secret-token:admin", "serve", "--port", "0", "--store", "memory:"]),
      runCli(["serve", "--port", "0", "--store", "memory:", "--tokens", ""]),
    ]);
    for (const run of [after, before]) {
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(
        /^error: USAGE: --token is the client commands' bearer token and does not protect a server; give the server its tokens with --tokens/,
      );
      expect(run.stderr).not.toContain("listening");
    }
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/^error: INVALID_OPTION: tokens is empty/);
  });

  it("warns when CHECKBACK_TOKEN is set but the server has no tokens", async () => {
    const server = await serve(["--port", "0", "--store", "memory:", "--log-level", "silent"], {
      CHECKBACK_TOKEN: "client-token-1",
    });
    expect(server.stderr()).toContain("warning: CHECKBACK_TOKEN is the client commands' token");
  });
});
