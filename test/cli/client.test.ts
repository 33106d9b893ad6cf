import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError, CheckbackClient, ConnectionError } from "../../packages/client/src/client.js";
import { startTestServer, type TestServer, uniqueQueue } from "./test-server.js";

let server: TestServer;
let client: CheckbackClient;

beforeAll(async () => {
  server = await startTestServer();
  client = new CheckbackClient({ url: `${server.url}/` });
});

afterAll(async () => {
  await server?.close();
});

// The CLI's client doubles as the reference for clients in other languages: these tests pin
// down the pull side it also wraps (claim, extend, release, complete, fail) and its errors.
describe("CheckbackClient against a running server", () => {
  it("claims a due job under a lease, extends it, releases it, and completes it with a result", async () => {
    const queue = uniqueQueue("client");
    const added = await client.add(queue, { payload: { n: 1 }, key: "only" });
    const first = await client.claim(queue, { lease: "10s" });
    expect(first.jobs).toHaveLength(1);
    const job = first.jobs[0]!;
    expect(job).toMatchObject({ id: added.id, state: "active", attempts: 1, leaseToken: expect.any(String) });

    const { leaseExpiresAt } = await client.extend(queue, job.id, job.leaseToken, "1m");
    expect(leaseExpiresAt).toBeGreaterThan(job.leaseExpiresAt);

    expect(await client.release(queue, job.id, job.leaseToken)).toEqual({ released: true });
    const again = await client.claim(queue, { lease: "10s" });
    expect(again.jobs[0]).toMatchObject({ id: job.id });

    expect(await client.complete(queue, job.id, again.jobs[0]!.leaseToken, { closed: true })).toEqual({
      completed: true,
    });
    expect(await client.get(queue, { key: "only" })).toMatchObject({ state: "completed", result: { closed: true } });
  });

  it("settles a claimed batch in one call each: completeMany, failMany, extendMany, releaseMany", async () => {
    const queue = uniqueQueue("client");
    await client.addBulk(
      queue,
      [1, 2, 3, 4].map((n) => ({ payload: n, attempts: 1 })),
    );
    const { jobs } = await client.claim(queue, { limit: 4, lease: "10s" });
    expect(jobs).toHaveLength(4);
    const [a, b, c, d] = jobs;

    // Claimed jobs are passed as they came: the client sends only their id and token.
    const extended = await client.extendMany(queue, [a!, { id: b!.id, leaseToken: "stale-token" }], "1m");
    expect(extended.results[0]).toMatchObject({ id: a!.id, ok: true, leaseExpiresAt: expect.any(Number) });
    expect(extended.results[1]).toMatchObject({ id: b!.id, error: { code: "LEASE_LOST" } });

    const completed = await client.completeMany(queue, [{ ...a!, result: { done: true } }]);
    expect(completed.results).toEqual([{ id: a!.id, ok: true }]);
    const failed = await client.failMany(queue, [{ id: b!.id, leaseToken: b!.leaseToken, error: "no" }]);
    expect(failed.results).toEqual([{ id: b!.id, ok: true, retryAt: null }]);
    const released = await client.releaseMany(queue, [c!, d!], "1h");
    expect(released.results.map((r) => r.ok)).toEqual([true, true]);
    expect(await client.counts(queue)).toMatchObject({ completed: 1, dead: 1, scheduled: 2, active: 0 });

    const tooMany = Array.from({ length: 1001 }, (_, n) => ({ id: String(n), leaseToken: "t" }));
    const refused = await client.completeMany(queue, tooMany).catch((error: unknown) => error);
    expect(refused).toMatchObject({ status: 400, code: "INVALID_REQUEST" });
  });

  it("groups: a grouped job, a group named with any characters, and a release that pauses the job's group", async () => {
    const queue = uniqueQueue("client");
    const group = "merchant 7/Zürich?#";
    await client.addBulk(queue, [
      { payload: 1, group },
      { payload: 2, group },
    ]);
    expect(await client.limitGroup(queue, group, { concurrency: 1 })).toMatchObject({
      group,
      ownLimits: true,
      scheduled: 2,
    });
    const [job] = (await client.claim(queue, { limit: 10, lease: "10s" })).jobs;
    expect(job).toMatchObject({ group, payload: 1 });
    expect(await client.release(queue, job!.id, job!.leaseToken, "1h", { pauseGroup: true })).toEqual({
      released: true,
    });
    const state = await client.groupState(queue, group);
    expect(state.pausedUntil).toBeGreaterThan(Date.now() + 59 * 60_000);
    expect((await client.flow(queue)).pausedUntil).toBeNull();
    expect((await client.claim(queue, { limit: 10 })).jobs).toHaveLength(0);
    expect((await client.resumeGroup(queue, group)).pausedUntil).toBeNull();
    expect((await client.claim(queue, { limit: 10 })).jobs.map((j) => j.payload)).toEqual([2]);
    expect(await client.busiestGroups(queue, 5)).toMatchObject({ activeGroups: 1, groups: [{ group, active: 1 }] });
    expect((await client.limitGroup(queue, group, null)).ownLimits).toBe(false);
    const refused = await client.pauseGroup(queue, "", { delay: "1s" }).catch((error: unknown) => error);
    expect(refused).toMatchObject({ status: 400, code: "INVALID_OPTION" });
  });

  it("a long-poll claim answers when a job falls due", async () => {
    const queue = uniqueQueue("client");
    const waiting = client.claim(queue, { wait: "10s", lease: "10s" });
    await client.add(queue, { payload: "late", delay: "200ms" });
    const { jobs } = await waiting;
    expect(jobs.map((job) => job.payload)).toEqual(["late"]);
  });

  it("a stale lease token is ApiError 409 LEASE_LOST; an unknown job 404 JOB_NOT_FOUND", async () => {
    const queue = uniqueQueue("client");
    await client.add(queue, { payload: 1 });
    const [job] = (await client.claim(queue, { lease: "10s" })).jobs;
    await client.cancel(queue, { id: job!.id });
    const lost = await client.complete(queue, job!.id, job!.leaseToken).catch((error: unknown) => error);
    expect(lost).toBeInstanceOf(ApiError);
    expect(lost).toMatchObject({ status: 409, code: "LEASE_LOST" });

    const missing = await client.get(queue, { id: "missing" }).catch((error: unknown) => error);
    expect(missing).toMatchObject({ status: 404, code: "JOB_NOT_FOUND" });
  });

  it("an answer that is not the API's JSON keeps its status; no server at all is a ConnectionError", async () => {
    const notApi = await new CheckbackClient({ url: `${server.url}/nowhere` })
      .queues()
      .catch((error: unknown) => error);
    expect(notApi).toBeInstanceOf(ApiError);
    expect((notApi as ApiError).status).toBe(404);

    const down = await new CheckbackClient({ url: "http://127.0.0.1:1" }).queues().catch((error: unknown) => error);
    expect(down).toBeInstanceOf(ConnectionError);
    expect(down).toMatchObject({ code: "UNREACHABLE" });
  });
});
