import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CheckbackClient, type JobPage } from "../../packages/client/src/client.js";
import { parseJson, runCli } from "./run-cli.js";
import { startTestServer, type TestServer, uniqueQueue } from "./test-server.js";

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.close();
});

const cli = (args: string[]) => runCli(args, { url: server.url });
/** Sets up and checks state directly, so that only the command under test is spawned. */
const api = () => new CheckbackClient({ url: server.url });

/** Dead letters made the way production makes them: one attempt, claimed by a consumer, failed. */
async function makeDeadJobs(queue: string, count: number): Promise<string[]> {
  const client = api();
  await client.addBulk(
    queue,
    Array.from({ length: count }, (_, n) => ({ payload: { n }, attempts: 1 })),
  );
  const { jobs: claimed } = await client.claim(queue, { limit: count, lease: "1m" });
  expect(claimed).toHaveLength(count);
  for (const job of claimed) {
    const { retryAt } = await client.fail(queue, job.id, job.leaseToken, `boom ${job.id}`);
    expect(retryAt).toBeNull();
  }
  return claimed.map((job) => job.id);
}

describe("checkback dead against a running server", { timeout: 60_000 }, () => {
  it("dead ls lists dead jobs with their errors, a page at a time", async () => {
    const queue = uniqueQueue();
    const ids = await makeDeadJobs(queue, 3);
    const page = parseJson<JobPage>(await cli(["dead", "ls", "-q", queue, "--limit", "2", "--json"]));
    expect(page.jobs.map((job) => job.id)).toEqual(ids.slice(0, 2));
    expect(page.jobs[0]).toMatchObject({
      state: "dead",
      attempts: 1,
      errors: [{ attempt: 1, message: `boom ${ids[0]}` }],
    });
    expect(page.next).not.toBeNull();

    const human = await cli(["dead", "ls", "-q", queue]);
    expect(human.code).toBe(0);
    for (const id of ids) expect(human.stdout).toContain(id);
    expect(human.stdout).toMatch(/\bdead\b/);

    const detail = await cli(["get", "-q", queue, ids[0]!]);
    expect(detail.stdout).toContain(`errors:\n  attempt 1 at `);
    expect(detail.stdout).toContain(`: boom ${ids[0]}`);
  });

  it("dead redrive sends listed dead jobs back to scheduled, later with --delay", async () => {
    const queue = uniqueQueue();
    const ids = await makeDeadJobs(queue, 3);
    const before = Date.now();
    const run = await cli(["dead", "redrive", "-q", queue, ids[0]!, ids[1]!, "--delay", "10m", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    expect(parseJson(run)).toEqual({ redriven: 2 });
    const job = await api().get(queue, { id: ids[0]! });
    expect(job).toMatchObject({ state: "scheduled", attempts: 0 });
    expect(job.runAt).toBeGreaterThanOrEqual(before + 10 * 60_000);
    expect(await api().counts(queue)).toMatchObject({ dead: 1, scheduled: 2 });
  });

  it("dead redrive --all pages through every dead job with a progress bar", async () => {
    const queue = uniqueQueue();
    await makeDeadJobs(queue, 7);
    const run = await cli([
      "dead",
      "redrive",
      "-q",
      queue,
      "--all",
      "--batch-size",
      "3",
      "--delay",
      "1h",
      "--progress",
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe(`redrove 7 dead jobs in ${queue}\n`);
    // --progress on a pipe: plain lines, the last one complete.
    expect(run.stderr).toMatch(/redrive \[.*\] 100% \| 7\/7/);
    expect(await api().counts(queue)).toMatchObject({ dead: 0, scheduled: 7 });

    const nothing = await cli(["dead", "redrive", "-q", queue, "--all", "--json"]);
    expect(parseJson(nothing)).toEqual({ redriven: 0 });
  });

  it("dead purge deletes listed dead jobs, or all of them with --all --yes", async () => {
    const queue = uniqueQueue();
    const ids = await makeDeadJobs(queue, 4);
    const one = await cli(["dead", "purge", "-q", queue, ids[0]!]);
    expect(one.stdout).toBe(`purged 1 dead job from ${queue}\n`);
    const gone = await cli(["get", "-q", queue, ids[0]!]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^error: JOB_NOT_FOUND: /);

    const rest = await cli(["dead", "purge", "-q", queue, "--all", "--yes", "--json"]);
    expect(parseJson(rest)).toEqual({ purged: 3 });
    expect((await api().counts(queue)).dead).toBe(0);
  });
});
