import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiSchedule, CheckbackClient } from "../../packages/client/src/client.js";
import { parseJson, runCli } from "./run-cli.js";
import { startTestServer, type TestServer, uniqueQueue } from "./test-server.js";

let server: TestServer;
let api: CheckbackClient;

beforeAll(async () => {
  server = await startTestServer();
  api = new CheckbackClient({ url: server.url });
});
afterAll(() => server?.close());

const cli = (args: string[]) => runCli(args, { url: server.url });

describe("checkback schedules against a running server", { timeout: 60_000 }, () => {
  it("add, list with next firings, pause, resume, trigger, remove", async () => {
    const queue = uniqueQueue("nightly");
    const name = uniqueQueue("report");
    const add = await cli([
      "schedules",
      "add",
      name,
      "-q",
      queue,
      "--cron",
      "0 30 2 * * *",
      "--timezone",
      "Europe/Berlin",
      "--payload",
      '{"report":"unpaid"}',
      "--missed",
      "skip",
    ]);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toContain(`created schedule ${name}`);
    expect((await api.schedule(name)).definition).toMatchObject({
      cron: "0 30 2 * * *",
      timezone: "Europe/Berlin",
      queue,
    });

    const list = await cli(["schedules", "list", "--next", "2"]);
    expect(list.code, list.stderr).toBe(0);
    const row = list.stdout.split("\n").find((line) => line.startsWith(name))!;
    expect(row).toContain('cron "0 30 2 * * *" Europe/Berlin');
    // The next two firings, each at 02:30 Berlin time.
    expect(row.match(/\d{4}-\d\d-\d\dT(00|01):30:00\.000Z/g)).toHaveLength(2);
    const json = parseJson<{ schedules: ApiSchedule[] }>(await cli(["schedules", "list", "--json"]));
    expect(json.schedules.find((s) => s.name === name)!.next).toHaveLength(3);

    expect((await cli(["schedules", "pause", name])).stdout).toContain("is paused");
    expect((await api.schedule(name)).state).toBe("paused");
    expect((await cli(["schedules", "resume", name])).stdout).toContain("is active");

    const trigger = await cli(["schedules", "trigger", name, "--json"]);
    expect(trigger.code, trigger.stderr).toBe(0);
    expect(parseJson<{ queue: string; payload: unknown }>(trigger)).toMatchObject({
      queue,
      payload: { schedule: name, kind: "trigger", payload: { report: "unpaid" } },
    });

    expect((await cli(["schedules", "remove", name])).stdout).toContain(`removed schedule ${name}`);
    const again = await cli(["schedules", "remove", name]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("SCHEDULE_NOT_FOUND");
  });

  it("usage errors exit 2 before any request", async () => {
    const both = await cli(["schedules", "add", "x", "-q", "q", "--cron", "* * * * *", "--every", "1m"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("--cron or --every");
  });
});
