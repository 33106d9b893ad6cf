import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
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
function serve(args: string[]): Promise<Served> {
  // A clean environment and an empty working directory: no CHECKBACK_* variable or
  // checkback.config.json of the developer's may change what the test starts.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("CHECKBACK_")));
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
      runCli(["dlq", "ls", "-q", "locked", "--json"], { url, env: { CHECKBACK_TOKEN: "admin-token-123" } }),
      runCli(["dlq", "purge", "-q", "locked", "--all", "--yes"], { url, env: { CHECKBACK_TOKEN: "producer-token-1" } }),
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
});
