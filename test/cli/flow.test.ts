import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CheckbackClient, type FlowSettings } from "../../packages/client/src/client.js";
import { parseJson, runCli } from "./run-cli.js";
import { startTestServer, type TestServer, uniqueQueue } from "./test-server.js";

let server: TestServer;
let api: CheckbackClient;

beforeAll(async () => {
  server = await startTestServer();
  api = new CheckbackClient({ url: server.url });
});
afterAll(async () => {
  await server?.close();
});

const cli = (args: string[]) => runCli(args, { url: server.url });

describe("checkback limit / pause / resume", { timeout: 60_000 }, () => {
  it("sets and lifts a rate limit", async () => {
    const queue = uniqueQueue();
    const set = await cli(["limit", "-q", queue, "--rate", "50", "--per", "1s", "--json"]);
    expect(set.code, set.stderr).toBe(0);
    expect(parseJson<FlowSettings>(set).limit).toEqual({ rate: 50, perMs: 1000 });
    expect((await api.flow(queue)).limit).toEqual({ rate: 50, perMs: 1000 });
    const text = await cli(["limit", "-q", queue, "--off"]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/limit:\s+none/);
    expect((await api.flow(queue)).limit).toBeNull();
  });

  it("pauses for a while and resumes", async () => {
    const queue = uniqueQueue();
    const before = Date.now();
    const paused = await cli(["pause", "-q", queue, "--for", "30s", "--json"]);
    expect(paused.code, paused.stderr).toBe(0);
    expect(parseJson<FlowSettings>(paused).pausedUntil!).toBeGreaterThanOrEqual(before + 29_000);
    const resumed = await cli(["resume", "-q", queue]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/paused:\s+no/);
    expect((await api.flow(queue)).pausedUntil).toBeNull();
  });

  it("usage errors exit 2 before any request", async () => {
    const queue = uniqueQueue();
    expect((await cli(["limit", "-q", queue])).code).toBe(2);
    expect((await cli(["limit", "-q", queue, "--rate", "0"])).code).toBe(2);
    expect((await cli(["limit", "-q", queue, "--rate", "5", "--off"])).code).toBe(2);
    expect((await cli(["pause", "-q", queue])).code).toBe(2);
    expect((await cli(["pause", "-q", queue, "--for", "30s", "--run-at", "2030-01-01T00:00:00Z"])).code).toBe(2);
  });
});
