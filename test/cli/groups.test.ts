import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AddedJob,
  type BusiestGroups,
  CheckbackClient,
  type GroupLimits,
  type GroupState,
} from "../../packages/client/src/client.js";
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

describe("checkback add --group, groups, group-limit, group-pause, group-resume", { timeout: 60_000 }, () => {
  it("adds a job to a group and shows the group", async () => {
    const queue = uniqueQueue();
    const json = await cli(["add", "-q", queue, '{"n":1}', "--group", "merchant-7", "--json"]);
    expect(json.code, json.stderr).toBe(0);
    const added = parseJson<AddedJob>(json);
    expect(added.group).toBe("merchant-7");
    const text = await cli(["get", "-q", queue, added.id]);
    expect(text.stdout).toMatch(/group:\s+merchant-7/);
  });

  it("a bad group is the server's INVALID_OPTION: exit 1, nothing added", async () => {
    const queue = uniqueQueue();
    const run = await cli(["add", "-q", queue, "1", "--group", "g".repeat(257)]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/INVALID_OPTION/);
    expect((await api.counts(queue)).scheduled).toBe(0);
  });

  it("sets, shows and clears the queue's default limits for groups", async () => {
    const queue = uniqueQueue();
    const set = await cli(["group-limit", "-q", queue, "--concurrency", "2", "--rate", "10", "--per", "1s", "--json"]);
    expect(set.code, set.stderr).toBe(0);
    const limits: GroupLimits = { concurrency: 2, limit: { rate: 10, perMs: 1000 } };
    expect(parseJson<{ groupLimits: GroupLimits }>(set)).toEqual({ groupLimits: limits });
    expect((await api.groupLimits(queue)).groupLimits).toEqual(limits);
    const text = await cli(["group-limit", "-q", queue, "--concurrency", "3"]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/group limits:\s+3 active at once$/m);
    const cleared = await cli(["group-limit", "-q", queue, "--clear"]);
    expect(cleared.code, cleared.stderr).toBe(0);
    expect(cleared.stdout).toMatch(/group limits:\s+none/);
    expect((await api.groupLimits(queue)).groupLimits).toBeNull();
  });

  it("gives one group limits of its own and drops them; shows one group", async () => {
    const queue = uniqueQueue();
    await api.limitGroups(queue, { concurrency: 1 });
    const own = await cli(["group-limit", "-q", queue, "--group", "vip", "--concurrency", "5", "--json"]);
    expect(own.code, own.stderr).toBe(0);
    expect(parseJson<GroupState>(own)).toMatchObject({ group: "vip", ownLimits: true, limits: { concurrency: 5 } });
    const shown = await cli(["groups", "-q", queue, "--group", "vip"]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/limits:\s+5 active at once \(its own\)/);
    const dropped = await cli(["group-limit", "-q", queue, "--group", "vip", "--clear", "--json"]);
    expect(parseJson<GroupState>(dropped)).toMatchObject({ ownLimits: false, limits: { concurrency: 1 } });
  });

  it("lists the busiest groups", async () => {
    const queue = uniqueQueue();
    await api.addBulk(queue, [
      { payload: 1, group: "a" },
      { payload: 2, group: "a" },
      { payload: 3, group: "b" },
    ]);
    expect((await api.claim(queue, { limit: 10 })).jobs).toHaveLength(3);
    const json = await cli(["groups", "-q", queue, "--json"]);
    expect(json.code, json.stderr).toBe(0);
    const busiest = parseJson<BusiestGroups>(json);
    expect(busiest.activeGroups).toBe(2);
    expect(busiest.groups.map((g) => [g.group, g.active])).toEqual([
      ["a", 2],
      ["b", 1],
    ]);
    const one = await cli(["groups", "-q", queue, "--limit", "1"]);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toMatch(/^GROUP\s+ACTIVE\s+SCHEDULED\s+LIMITS\s+PAUSED UNTIL$/m);
    expect(one.stdout).toMatch(/^a\s+2\s+0\s+none\s+-$/m);
    expect(one.stdout).not.toMatch(/^b\s/m);
    expect(one.stdout).toContain("1 of 2 groups with an active job");
    expect((await cli(["groups", "-q", uniqueQueue()])).stdout).toContain("(no group has an active job)");
  });

  it("pauses one group and resumes it", async () => {
    const queue = uniqueQueue();
    const before = Date.now();
    const paused = await cli(["group-pause", "-q", queue, "--group", "a", "--for", "30s", "--json"]);
    expect(paused.code, paused.stderr).toBe(0);
    expect(parseJson<GroupState>(paused).pausedUntil!).toBeGreaterThanOrEqual(before + 29_000);
    expect((await api.groupState(queue, "a")).pausedUntil).toBeGreaterThanOrEqual(before + 29_000);
    const resumed = await cli(["group-resume", "-q", queue, "--group", "a"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/paused:\s+no/);
    expect((await api.groupState(queue, "a")).pausedUntil).toBeNull();
  });

  it("imports grouped jobs from NDJSON, refusing a bad group before anything is sent, and lists them with a group column", async () => {
    const queue = uniqueQueue();
    const bad = '{"payload":1,"group":"a"}\n{"payload":2,"group":""}\n';
    const refused = await runCli(["import", "-", "-q", queue, "--no-progress"], { url: server.url, input: bad });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/line 2/);
    expect((await api.counts(queue)).scheduled).toBe(0);
    const lines = '{"payload":1,"group":"a","key":"k1"}\n{"payload":2}\n';
    const imported = await runCli(["import", "-", "-q", queue, "--no-progress"], { url: server.url, input: lines });
    expect(imported.code, imported.stderr).toBe(0);
    expect((await api.get(queue, { key: "k1" })).group).toBe("a");
    const listed = await cli(["ls", "-q", queue]);
    expect(listed.stdout).toMatch(/^ID\s+KEY\s+GROUP\s+STATE/m);
    expect(listed.stdout).toMatch(/\sk1\s+a\s+scheduled\s/);
    const plain = uniqueQueue();
    await api.add(plain, { payload: 1 });
    expect((await cli(["ls", "-q", plain])).stdout).not.toContain("GROUP");
  });

  it("usage errors exit 2 before any request", async () => {
    const queue = uniqueQueue();
    const usage = [
      ["group-limit", "-q", queue],
      ["group-limit", "-q", queue, "--concurrency", "0"],
      ["group-limit", "-q", queue, "--concurrency", "-1"],
      ["group-limit", "-q", queue, "--concurrency", "1.5"],
      ["group-limit", "-q", queue, "--rate", "0"],
      ["group-limit", "-q", queue, "--per", "1s"],
      ["group-limit", "-q", queue, "--concurrency", "2", "--clear"],
      ["group-pause", "-q", queue, "--for", "30s"],
      ["group-pause", "-q", queue, "--group", "a"],
      ["group-pause", "-q", queue, "--group", "a", "--for", "30s", "--run-at", "2030-01-01T00:00:00Z"],
      ["group-resume", "-q", queue],
      ["groups", "-q", queue, "--limit", "1001"],
      ["groups", "-q", queue, "--group", "a", "--limit", "5"],
    ];
    for (const args of usage) expect((await cli(args)).code, args.join(" ")).toBe(2);
    expect((await api.groupLimits(queue)).groupLimits).toBeNull();
    expect(await api.groupState(queue, "a")).toMatchObject({ ownLimits: false, pausedUntil: null });
  });

  it("help says how to use each command", async () => {
    for (const command of ["groups", "group-limit", "group-pause", "group-resume"]) {
      const help = await cli([command, "--help"]);
      expect(help.code, command).toBe(0);
      expect(help.stdout, command).toContain(`$ checkback ${command} -q payments`);
    }
  });
});
