import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Api, snapshot, startTestServer, type TestServer, uniqueQueue } from "./helpers.js";

let server: TestServer;
let api: Api;

beforeAll(async () => {
  server = await startTestServer();
  api = server.api;
});
afterAll(() => server.close());

async function addDue(queue: string, payload: unknown, extra: Record<string, unknown> = {}) {
  const added = await api.post(`/v1/queues/${queue}/jobs`, { payload, ...extra });
  expect(added.status).toBe(201);
  return added.body as { id: string };
}

describe("pull: claim and settle", () => {
  it("claims due jobs in order with a lease, and nothing that is not due", async () => {
    const queue = uniqueQueue();
    await addDue(queue, 1);
    await addDue(queue, 2);
    await addDue(queue, 3, { delay: "1h" });
    const claimed = await api.post(`/v1/queues/${queue}/claim`, { limit: 10, lease: "1m" });
    expect(claimed.status).toBe(200);
    expect(claimed.body.jobs.map((j: { payload: number }) => j.payload)).toEqual([1, 2]);
    const [job] = claimed.body.jobs;
    expect(job).toMatchObject({ state: "active", attempts: 1, leaseToken: expect.any(String) });
    expect(job.leaseExpiresAt).toBeGreaterThan(Date.now() + 50_000);
    expect((await api.post(`/v1/queues/${queue}/claim`, {})).body).toEqual({ jobs: [] });
  });

  it("a claim without a body takes one job", async () => {
    const queue = uniqueQueue();
    await addDue(queue, 1);
    await addDue(queue, 2);
    const claimed = await api.send("POST", `/v1/queues/${queue}/claim`);
    expect(claimed.status).toBe(200);
    expect(claimed.body.jobs).toHaveLength(1);
  });

  it("completes with a result", async () => {
    const queue = uniqueQueue();
    const { id } = await addDue(queue, "work");
    const [job] = (await api.post(`/v1/queues/${queue}/claim`, {})).body.jobs;
    const done = await api.post(`/v1/queues/${queue}/jobs/${id}/complete`, {
      leaseToken: job.leaseToken,
      result: { ok: 1 },
    });
    expect(done.status).toBe(200);
    expect(done.body).toEqual({ completed: true });
    expect((await api.get(`/v1/queues/${queue}/jobs/${id}`)).body).toMatchObject({
      state: "completed",
      result: { ok: 1 },
    });
  });

  it("fails into a retry by the job's back-off, then into the dead letters", async () => {
    const queue = uniqueQueue();
    const { id } = await addDue(queue, "flaky", { attempts: 2, backoff: "200ms" });
    const [first] = (await api.post(`/v1/queues/${queue}/claim`, {})).body.jobs;
    const failed = await api.post(`/v1/queues/${queue}/jobs/${id}/fail`, {
      leaseToken: first.leaseToken,
      error: "boom",
    });
    expect(failed.status).toBe(200);
    expect(failed.body.job).toMatchObject({
      state: "scheduled",
      attempts: 1,
      errors: [{ attempt: 1, message: "boom" }],
    });
    expect(failed.body.retryAt).toBeGreaterThanOrEqual(first.updatedAt + 200);
    const [second] = (await api.post(`/v1/queues/${queue}/claim`, { wait: "2s" })).body.jobs;
    expect(second.id).toBe(id);
    const dead = await api.post(`/v1/queues/${queue}/jobs/${id}/fail`, {
      leaseToken: second.leaseToken,
      error: "again",
    });
    expect(dead.body).toMatchObject({ job: { state: "dead" }, retryAt: null });
  });

  it("extends a lease and releases without counting the attempt", async () => {
    const queue = uniqueQueue();
    const { id } = await addDue(queue, "slow");
    const [job] = (await api.post(`/v1/queues/${queue}/claim`, { lease: "2s" })).body.jobs;
    const extended = await api.post(`/v1/queues/${queue}/jobs/${id}/extend`, {
      leaseToken: job.leaseToken,
      lease: "5m",
    });
    expect(extended.status).toBe(200);
    expect(extended.body.leaseExpiresAt).toBeGreaterThan(Date.now() + 4 * 60_000);
    const released = await api.post(`/v1/queues/${queue}/jobs/${id}/release`, {
      leaseToken: job.leaseToken,
      delay: "1h",
    });
    expect(released.body).toEqual({ released: true });
    expect((await api.get(`/v1/queues/${queue}/jobs/${id}`)).body).toMatchObject({ state: "scheduled", attempts: 0 });
  });
});

describe("pull: long-poll", () => {
  it("answers as soon as a job is added while waiting", async () => {
    const queue = uniqueQueue();
    const started = Date.now();
    const claim = api.post(`/v1/queues/${queue}/claim`, { wait: "10s" });
    await new Promise((resolve) => setTimeout(resolve, 150));
    await addDue(queue, "late arrival");
    const claimed = await claim;
    expect(claimed.body.jobs.map((j: { payload: string }) => j.payload)).toEqual(["late arrival"]);
    expect(Date.now() - started).toBeLessThan(9_000);
  });

  it("answers when a delayed job falls due, not before", async () => {
    const queue = uniqueQueue();
    const { id } = await addDue(queue, "later", { delay: "400ms" });
    const runAt = (await api.get(`/v1/queues/${queue}/jobs/${id}`)).body.runAt;
    const claimed = await api.post(`/v1/queues/${queue}/claim`, { wait: "10s" });
    expect(claimed.body.jobs[0].id).toBe(id);
    expect(Date.now()).toBeGreaterThanOrEqual(runAt);
  });

  it("two waiting consumers: each job goes to exactly one of them", async () => {
    const queue = uniqueQueue();
    const first = api.post(`/v1/queues/${queue}/claim`, { wait: "10s" });
    const second = api.post(`/v1/queues/${queue}/claim`, { wait: "10s" });
    await new Promise((resolve) => setTimeout(resolve, 150));
    await addDue(queue, "a");
    await new Promise((resolve) => setTimeout(resolve, 150));
    await addDue(queue, "b");
    const got = [(await first).body.jobs, (await second).body.jobs];
    expect(got.map((jobs) => jobs.length)).toEqual([1, 1]);
    expect(
      got
        .flat()
        .map((j: { payload: string }) => j.payload)
        .sort(),
    ).toEqual(["a", "b"]);
  });

  it("answers with no jobs when the wait runs out", async () => {
    const queue = uniqueQueue();
    const started = Date.now();
    const claimed = await api.post(`/v1/queues/${queue}/claim`, { wait: "300ms" });
    expect(claimed.body).toEqual({ jobs: [] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it("a client that leaves stops waiting; a job added afterwards stays scheduled", async () => {
    const queue = uniqueQueue();
    const controller = new AbortController();
    const claim = api.send("POST", `/v1/queues/${queue}/claim`, { wait: "10s" }, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 100));
    controller.abort();
    await expect(claim).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await addDue(queue, "for someone else");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await api.get(`/v1/queues/${queue}/counts`)).body).toMatchObject({ scheduled: 1, active: 0 });
  });

  it("closing the server ends waiting claims at once", async () => {
    const own = await startTestServer();
    const started = Date.now();
    const claim = own.api.post(`/v1/queues/${uniqueQueue()}/claim`, { wait: "20s" });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await own.close();
    const answer = await claim;
    expect(answer.body).toEqual({ jobs: [] });
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});

describe("pull: bad input and stale leases change nothing", () => {
  it("a stale lease token → 409 LEASE_LOST on complete, fail, extend and release", async () => {
    const queue = uniqueQueue();
    const { id } = await addDue(queue, "x");
    const [job] = (await api.post(`/v1/queues/${queue}/claim`, {})).body.jobs;
    const before = await snapshot(server.checkback.store, queue);
    const bodies = {
      complete: { leaseToken: "not-the-token" },
      fail: { leaseToken: "not-the-token", error: "e" },
      extend: { leaseToken: "not-the-token", lease: "1m" },
      release: { leaseToken: "not-the-token" },
    };
    for (const [action, body] of Object.entries(bodies)) {
      const answer = await api.post(`/v1/queues/${queue}/jobs/${id}/${action}`, body);
      expect(answer.status, action).toBe(409);
      expect(answer.body.error.code, action).toBe("LEASE_LOST");
    }
    expect(await snapshot(server.checkback.store, queue)).toEqual(before);
    // The real holder still can.
    expect((await api.post(`/v1/queues/${queue}/jobs/${id}/complete`, { leaseToken: job.leaseToken })).status).toBe(
      200,
    );
  });

  it("the old holder's token is stale once the lease expired and the job was claimed again", async () => {
    const queue = uniqueQueue();
    const { id } = await addDue(queue, "x");
    const [first] = (await api.post(`/v1/queues/${queue}/claim`, { lease: "1s" })).body.jobs;
    const [second] = (await api.post(`/v1/queues/${queue}/claim`, { wait: "5s" })).body.jobs;
    expect(second.id).toBe(id);
    const stale = await api.post(`/v1/queues/${queue}/jobs/${id}/complete`, { leaseToken: first.leaseToken });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe("LEASE_LOST");
    expect((await api.get(`/v1/queues/${queue}/jobs/${id}`)).body.state).toBe("active");
  });

  it("a cancelled job's token is stale", async () => {
    const queue = uniqueQueue();
    const { id } = await addDue(queue, "x");
    const [job] = (await api.post(`/v1/queues/${queue}/claim`, {})).body.jobs;
    await api.delete(`/v1/queues/${queue}/jobs/${id}`);
    const answer = await api.post(`/v1/queues/${queue}/jobs/${id}/complete`, { leaseToken: job.leaseToken });
    expect(answer.status).toBe(409);
    expect((await api.get(`/v1/queues/${queue}/jobs/${id}`)).body.state).toBe("cancelled");
  });

  const refusals: [string, string, unknown, number, string][] = [
    ["claim: limit as a string", "claim", { limit: "5" }, 400, "INVALID_REQUEST"],
    ["claim: limit 0", "claim", { limit: 0 }, 400, "INVALID_REQUEST"],
    ["claim: a bad lease", "claim", { lease: "forever" }, 400, "INVALID_DURATION"],
    ["claim: a lease too short", "claim", { lease: 10 }, 400, "INVALID_OPTION"],
    ["claim: a wait over the maximum", "claim", { wait: "31s" }, 400, "INVALID_OPTION"],
    ["claim: an unknown field", "claim", { limit: 1, timeout: "1s" }, 400, "INVALID_REQUEST"],
    ["complete: no lease token", "jobs/1/complete", {}, 400, "INVALID_REQUEST"],
    ["fail: no error", "jobs/1/fail", { leaseToken: "t" }, 400, "INVALID_REQUEST"],
    ["extend: a bad lease", "jobs/1/extend", { leaseToken: "t", lease: "1 minute" }, 400, "INVALID_DURATION"],
    ["release: a bad delay", "jobs/1/release", { leaseToken: "t", delay: true }, 400, "INVALID_REQUEST"],
  ];
  for (const [what, path, body, status, code] of refusals) {
    it(`${what} → ${status} ${code}`, async () => {
      const queue = uniqueQueue();
      await addDue(queue, "x");
      const before = await snapshot(server.checkback.store, queue);
      const answer = await api.post(`/v1/queues/${queue}/${path}`, body);
      expect(answer.status).toBe(status);
      expect(answer.body.error.code).toBe(code);
      expect(await snapshot(server.checkback.store, queue)).toEqual(before);
    });
  }

  it("claim: malformed JSON → 400 MALFORMED_JSON, nothing claimed", async () => {
    const queue = uniqueQueue();
    await addDue(queue, "x");
    const answer = await api.raw("POST", `/v1/queues/${queue}/claim`, "{limit:1}");
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe("MALFORMED_JSON");
    expect((await api.get(`/v1/queues/${queue}/counts`)).body.scheduled).toBe(1);
  });
});
