import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AddedJob,
  type ApiJob,
  CheckbackClient,
  type Counts,
  type JobPage,
} from "../../packages/client/src/client.js";
import { parseJson, runCli } from "./run-cli.js";
import { startTestServer, type TestServer, uniqueQueue } from "./test-server.js";

let server: TestServer;
/** Sets up and checks state directly, so that only the command under test is spawned. */
let api: CheckbackClient;

beforeAll(async () => {
  server = await startTestServer();
  api = new CheckbackClient({ url: server.url });
});

afterAll(async () => {
  await server?.close();
});

const cli = (args: string[], input?: string) =>
  runCli(args, input === undefined ? { url: server.url } : { url: server.url, input });

describe("checkback add / get / ls / cancel / reschedule / stats against a running server", { timeout: 60_000 }, () => {
  it("add schedules a job after a delay and prints it; --json gives the server's job", async () => {
    const queue = uniqueQueue();
    const before = Date.now();
    const run = await cli(["add", "-q", queue, '{"orderId":42}', "--delay", "30m", "--key", "order-42", "--json"]);
    const after = Date.now();
    expect(run.code, run.stderr).toBe(0);
    const job = parseJson<AddedJob>(run);
    expect(job).toMatchObject({
      queue,
      key: "order-42",
      payload: { orderId: 42 },
      state: "scheduled",
      outcome: "created",
    });
    expect(job.runAt).toBeGreaterThanOrEqual(before + 30 * 60_000);
    expect(job.runAt).toBeLessThanOrEqual(after + 30 * 60_000);

    const human = await cli([
      "add",
      "-q",
      queue,
      '"plain text"',
      "--run-at",
      "2030-01-01T00:00:00Z",
      "--attempts",
      "5",
    ]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^outcome:\s+created$/m);
    expect(human.stdout).toMatch(/^state:\s+scheduled$/m);
    expect(human.stdout).toMatch(/^run at:\s+2030-01-01T00:00:00\.000Z \(in \d+d/m);
    expect(human.stdout).toMatch(/^attempts:\s+0\/5$/m);
    expect(human.stdout).toContain('payload:\n  "plain text"');
  });

  it("add with a key already held keeps the job (or replaces it with --replace)", async () => {
    const queue = uniqueQueue();
    const first = parseJson<AddedJob>(
      await cli(["add", "-q", queue, '{"v":1}', "-k", "trade-1", "-d", "1h", "--json"]),
    );
    const again = await cli(["add", "-q", queue, '{"v":2}', "-k", "trade-1", "--json"]);
    expect(again.code).toBe(0);
    expect(parseJson<AddedJob>(again)).toMatchObject({ id: first.id, outcome: "existing", payload: { v: 1 } });

    const kept = await cli(["add", "-q", queue, '{"v":2}', "-k", "trade-1"]);
    expect(kept.stderr).toContain(`note: job ${first.id} already held key "trade-1"; kept it`);

    const replaced = parseJson<AddedJob>(
      await cli(["add", "-q", queue, '{"v":3}', "-k", "trade-1", "--replace", "--json"]),
    );
    expect(replaced).toMatchObject({ id: first.id, outcome: "replaced", payload: { v: 3 } });
  });

  it("add reads the payload from stdin with -", async () => {
    const queue = uniqueQueue();
    const run = await cli(["add", "-q", queue, "-", "--json"], '{"from":"stdin","n":[1,2]}\n');
    expect(run.code, run.stderr).toBe(0);
    expect(parseJson<AddedJob>(run).payload).toEqual({ from: "stdin", n: [1, 2] });
  });

  it("add passes a back-off through, and the server's refusal comes back as error: CODE: message, exit 1", async () => {
    const queue = uniqueQueue();
    const ok = await cli(["add", "-q", queue, "1", "--backoff", '["10s","1m"]', "--attempts", "3", "--json"]);
    expect(ok.code, ok.stderr).toBe(0);

    const refused = await cli(["add", "-q", queue, "1", "--backoff", '{"type":"sometimes"}']);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toMatch(/^error: INVALID_(OPTION|REQUEST): .+\n$/);
  });

  it("get finds a job by id and by key; a missing job is error: JOB_NOT_FOUND, exit 1", async () => {
    const queue = uniqueQueue();
    const added = await api.add(queue, { payload: { n: 1 }, key: "k-1" });
    const [byId, byKey, human, missing] = await Promise.all([
      cli(["get", "-q", queue, added.id, "--json"]),
      cli(["get", "-q", queue, "--key", "k-1", "--json"]),
      cli(["get", "-q", queue, added.id]),
      cli(["get", "-q", queue, "no-such-job"]),
    ]);
    const { outcome: _outcome, ...job } = added;
    expect(parseJson<ApiJob>(byId)).toEqual(job);
    expect(parseJson<ApiJob>(byKey)).toEqual(job);
    expect(human.stdout).toMatch(new RegExp(`^id:\\s+${added.id}$`, "m"));
    expect(human.stdout).toContain('payload:\n  {\n    "n": 1\n  }');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: JOB_NOT_FOUND: .*no-such-job.*\n$/);
  });

  it("ls pages through a queue's jobs with a cursor, oldest first", async () => {
    const queue = uniqueQueue();
    const ids: string[] = [];
    for (const n of [1, 2, 3]) {
      ids.push((await api.add(queue, { payload: { n }, delay: "1h" })).id);
    }
    const first = parseJson<JobPage>(await cli(["ls", "-q", queue, "--limit", "2", "--json"]));
    expect(first.jobs.map((job) => job.id)).toEqual(ids.slice(0, 2));
    expect(first.next).toEqual(expect.any(String));
    const second = parseJson<JobPage>(
      await cli(["ls", "-q", queue, "--limit", "2", "--cursor", first.next!, "--json"]),
    );
    expect(second.jobs.map((job) => job.id)).toEqual(ids.slice(2));
    expect(second.next).toBeNull();

    const human = await cli(["ls", "-q", queue, "--limit", "2"]);
    expect(human.code).toBe(0);
    expect(human.stdout.split("\n")[0]).toMatch(/^ID\s+KEY\s+STATE\s+RUN AT\s+ATTEMPTS\s+PAYLOAD$/);
    expect(human.stdout).toContain(ids[0]);
    expect(human.stdout).toContain('{"n":1}');
    expect(human.stderr).toContain(`more: checkback ls -q ${queue} --state scheduled --limit 2 --cursor ${first.next}`);

    const empty = await cli(["ls", "-q", queue, "--state", "completed"]);
    expect(empty.stdout).toBe("(no jobs)\n");
  });

  it("cancel by id and by key; cancelling a finished job says so and changes nothing", async () => {
    const queue = uniqueQueue();
    const a = await api.add(queue, { payload: 1, delay: "1h" });
    await api.add(queue, { payload: 2, delay: "1h", key: "second" });
    const [byId, byKey] = await Promise.all([
      cli(["cancel", "-q", queue, a.id, "--json"]),
      cli(["cancel", "-q", queue, "--key", "second"]),
    ]);
    expect(parseJson(byId)).toEqual({ cancelled: true });
    expect(byKey.stdout).toBe('cancelled the job with key "second"\n');

    const again = await cli(["cancel", "-q", queue, a.id]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`job ${a.id} had already finished; nothing changed\n`);
    expect((await api.get(queue, { id: a.id })).state).toBe("cancelled");
  });

  it("reschedule moves a scheduled job by id or key; a finished job is refused with INVALID_STATE", async () => {
    const queue = uniqueQueue();
    const job = await api.add(queue, { payload: 1, delay: "1h", key: "r-1" });
    const moved = await cli(["reschedule", "-q", queue, "--key", "r-1", "--run-at", "2031-06-01T12:00:00Z", "--json"]);
    expect(moved.code, moved.stderr).toBe(0);
    expect(parseJson<ApiJob>(moved)).toMatchObject({ id: job.id, runAt: Date.parse("2031-06-01T12:00:00Z") });

    const before = Date.now();
    const sooner = parseJson<ApiJob>(await cli(["reschedule", "-q", queue, job.id, "--delay", "5s", "--json"]));
    expect(sooner.runAt).toBeGreaterThanOrEqual(before + 5_000);
    expect(sooner.runAt).toBeLessThan(Date.parse("2031-06-01T12:00:00Z"));

    await api.cancel(queue, { id: job.id });
    const refused = await cli(["reschedule", "-q", queue, job.id, "--delay", "1m"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: INVALID_STATE: .*cancelled.*\n$/);
  });

  it("stats shows counts for one queue and for every queue", async () => {
    const queue = uniqueQueue();
    await api.add(queue, { payload: 1, delay: "1h" });
    const b = await api.add(queue, { payload: 2, delay: "1h" });
    await api.cancel(queue, { id: b.id });

    const [one, all, human] = await Promise.all([
      cli(["stats", "-q", queue, "--json"]),
      cli(["--json", "stats"]),
      cli(["stats"]),
    ]);
    expect(parseJson<Counts>(one)).toEqual({ scheduled: 1, active: 0, completed: 0, dead: 0, cancelled: 1 });
    const listed = parseJson<{ queues: { name: string; counts: Counts }[] }>(all).queues.find((q) => q.name === queue);
    expect(listed?.counts).toEqual({ scheduled: 1, active: 0, completed: 0, dead: 0, cancelled: 1 });
    expect(human.stdout.split("\n")[0]).toMatch(/^QUEUE\s+SCHEDULED\s+ACTIVE\s+COMPLETED\s+DEAD\s+CANCELLED$/);
    expect(human.stdout).toMatch(new RegExp(`^${queue.replace(/[.]/g, "\\.")}\\s+1\\s+0\\s+0\\s+0\\s+1$`, "m"));
  });
});
