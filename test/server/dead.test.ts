import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Api, snapshot, startTestServer, type TestServer, uniqueQueue } from "./helpers.js";

let server: TestServer;
let api: Api;

beforeAll(async () => {
  server = await startTestServer();
  api = server.api;
});
afterAll(() => server.close());

/** Adds `n` jobs with one attempt each and fails them all, so they go dead. */
async function deadJobs(queue: string, n: number): Promise<string[]> {
  await api.post(`/v1/queues/${queue}/jobs/bulk`, {
    jobs: Array.from({ length: n }, (_, i) => ({ payload: i, attempts: 1 })),
  });
  const claimed = (await api.post(`/v1/queues/${queue}/claim`, { limit: n })).body.jobs as {
    id: string;
    leaseToken: string;
  }[];
  for (const job of claimed) {
    await api.post(`/v1/queues/${queue}/jobs/${job.id}/fail`, { leaseToken: job.leaseToken, error: `bad ${job.id}` });
  }
  return claimed.map((j) => j.id);
}

describe("dead letters", () => {
  it("lists and inspects dead jobs with their errors", async () => {
    const queue = uniqueQueue();
    const ids = await deadJobs(queue, 3);
    const list = await api.get(`/v1/queues/${queue}/dead?limit=2`);
    expect(list.status).toBe(200);
    expect(list.body.jobs.map((j: { id: string }) => j.id)).toEqual(ids.slice(0, 2));
    const rest = await api.get(`/v1/queues/${queue}/dead?limit=2&cursor=${list.body.next}`);
    expect(rest.body).toMatchObject({ jobs: [{ id: ids[2] }], next: null });
    const one = await api.get(`/v1/queues/${queue}/dead/${ids[0]}`);
    expect(one.body).toMatchObject({ state: "dead", errors: [{ attempt: 1, message: `bad ${ids[0]}` }] });
  });

  it("redrives by id, then all, with a delay", async () => {
    const queue = uniqueQueue();
    const ids = await deadJobs(queue, 3);
    expect((await api.post(`/v1/queues/${queue}/dead/redrive`, { ids: [ids[0]] })).body).toEqual({ redriven: 1 });
    const redriven = (await api.get(`/v1/queues/${queue}/jobs/${ids[0]}`)).body;
    expect(redriven).toMatchObject({ state: "scheduled", attempts: 0, errors: [{ message: `bad ${ids[0]}` }] });
    const before = Date.now();
    expect((await api.post(`/v1/queues/${queue}/dead/redrive`, { all: true, delay: "1h" })).body).toEqual({
      redriven: 2,
    });
    expect((await api.get(`/v1/queues/${queue}/jobs/${ids[2]}`)).body.runAt).toBeGreaterThanOrEqual(before + 3_600_000);
    expect((await api.get(`/v1/queues/${queue}/counts`)).body).toMatchObject({ scheduled: 3, dead: 0 });
  });

  it("purges by id, then all", async () => {
    const queue = uniqueQueue();
    const ids = await deadJobs(queue, 3);
    expect((await api.post(`/v1/queues/${queue}/dead/purge`, { ids: [ids[1]] })).body).toEqual({ purged: 1 });
    expect((await api.get(`/v1/queues/${queue}/jobs/${ids[1]}`)).status).toBe(404);
    expect((await api.post(`/v1/queues/${queue}/dead/purge`, { all: true })).body).toEqual({ purged: 2 });
    expect((await api.get(`/v1/queues/${queue}/counts`)).body.dead).toBe(0);
  });

  it("purge only touches dead jobs", async () => {
    const queue = uniqueQueue();
    const live = (await api.post(`/v1/queues/${queue}/jobs`, { payload: "live" })).body;
    expect((await api.post(`/v1/queues/${queue}/dead/purge`, { ids: [live.id] })).body).toEqual({ purged: 0 });
    expect((await api.get(`/v1/queues/${queue}/jobs/${live.id}`)).body.state).toBe("scheduled");
  });

  const refusals: [string, () => [string, string, unknown?], number, string][] = [
    ["inspect a job that is not dead", () => ["GET", "dead/LIVE"], 404, "JOB_NOT_FOUND"],
    ["inspect an unknown id", () => ["GET", "dead/424242"], 404, "JOB_NOT_FOUND"],
    ["redrive without saying which", () => ["POST", "dead/redrive", {}], 400, "INVALID_OPTION"],
    ["redrive with ids and all", () => ["POST", "dead/redrive", { ids: ["1"], all: true }], 400, "INVALID_OPTION"],
    ["redrive with all: false", () => ["POST", "dead/redrive", { all: false }], 400, "INVALID_REQUEST"],
    [
      "redrive with a bad delay",
      () => ["POST", "dead/redrive", { all: true, delay: "someday" }],
      400,
      "INVALID_DURATION",
    ],
    ["purge without a body", () => ["POST", "dead/purge"], 400, "INVALID_REQUEST"],
    ["purge with ids as a string", () => ["POST", "dead/purge", { ids: "1,2" }], 400, "INVALID_REQUEST"],
    ["a list limit as text", () => ["GET", "dead?limit=many"], 400, "INVALID_REQUEST"],
  ];
  for (const [what, request, status, code] of refusals) {
    it(`${what} → ${status} ${code}, nothing changes`, async () => {
      const queue = uniqueQueue();
      await deadJobs(queue, 2);
      const live = (await api.post(`/v1/queues/${queue}/jobs`, { payload: "live", delay: "1h" })).body;
      const before = await snapshot(server.checkback.store, queue);
      const [method, path, body] = request();
      const answer = await api.send(method, `/v1/queues/${queue}/${path.replace("LIVE", live.id)}`, body);
      expect(answer.status).toBe(status);
      expect(answer.body.error.code).toBe(code);
      expect(await snapshot(server.checkback.store, queue)).toEqual(before);
    });
  }
});
