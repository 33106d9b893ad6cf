import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Api, snapshot, startTestServer, type TestServer, uniqueQueue } from "./helpers.js";

let server: TestServer;
let api: Api;

beforeAll(async () => {
  server = await startTestServer({ bodyLimit: "64kb", maxPayloadBytes: "8kb" });
  api = server.api;
});
afterAll(() => server.close());

describe("queues: happy paths", () => {
  it("adds a delayed job (201) and reads it back by id", async () => {
    const queue = uniqueQueue();
    const before = Date.now();
    const added = await api.post(`/v1/queues/${queue}/jobs`, { payload: { order: 42 }, delay: "30m" });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ queue, payload: { order: 42 }, state: "scheduled", outcome: "created" });
    expect(added.body.runAt).toBeGreaterThanOrEqual(before + 30 * 60_000);
    const got = await api.get(`/v1/queues/${queue}/jobs/${added.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id: added.body.id, payload: { order: 42 }, attempts: 0, maxAttempts: 3 });
  });

  it("adds with a priority, shows it, and refuses one out of range", async () => {
    const queue = uniqueQueue();
    const added = await api.post(`/v1/queues/${queue}/jobs`, { payload: 1, priority: 4 });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ priority: 4 });
    const got = await api.get(`/v1/queues/${queue}/jobs/${added.body.id}`);
    expect(got.body).toMatchObject({ priority: 4 });
    const refused = await api.post(`/v1/queues/${queue}/jobs`, { payload: 1, priority: 11 });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe("INVALID_OPTION");
    expect((await api.get(`/v1/queues/${queue}/counts`)).body).toMatchObject({ scheduled: 1 });
  });

  it("adds at an instant (runAt) with attempts and back-off", async () => {
    const queue = uniqueQueue();
    const runAt = Date.now() + 60_000;
    const added = await api.post(`/v1/queues/${queue}/jobs`, {
      payload: "x",
      runAt,
      attempts: 5,
      backoff: { type: "exponential", delay: "1s", max: "1m" },
    });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ runAt, maxAttempts: 5 });
  });

  it("a key twice gives the existing job (200), replace gives it the new payload", async () => {
    const queue = uniqueQueue();
    const first = await api.post(`/v1/queues/${queue}/jobs`, { payload: 1, key: "T-1", delay: "1h" });
    const again = await api.post(`/v1/queues/${queue}/jobs`, { payload: 2, key: "T-1" });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: first.body.id, outcome: "existing", payload: 1 });
    const replaced = await api.post(`/v1/queues/${queue}/jobs`, { payload: 3, key: "T-1", replace: true, delay: "2h" });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ id: first.body.id, outcome: "replaced", payload: 3 });
    const byKey = await api.get(`/v1/queues/${queue}/keys/T-1`);
    expect(byKey.body).toMatchObject({ id: first.body.id, payload: 3 });
  });

  it("bulk adds atomically (201)", async () => {
    const queue = uniqueQueue();
    const bulk = await api.post(`/v1/queues/${queue}/jobs/bulk`, {
      jobs: [{ payload: "a" }, { payload: "b", delay: 1000 }, { payload: "c", key: "k" }],
    });
    expect(bulk.status).toBe(201);
    expect(bulk.body.jobs.map((j: { payload: string }) => j.payload)).toEqual(["a", "b", "c"]);
    const counts = await api.get(`/v1/queues/${queue}/counts`);
    expect(counts.body).toEqual({ scheduled: 3, active: 0, completed: 0, dead: 0, cancelled: 0 });
  });

  it("lists by state a page at a time", async () => {
    const queue = uniqueQueue();
    await api.post(`/v1/queues/${queue}/jobs/bulk`, {
      jobs: [1, 2, 3, 4, 5].map((n) => ({ payload: n, delay: "1h" })),
    });
    const first = await api.get(`/v1/queues/${queue}/jobs?state=scheduled&limit=2`);
    expect(first.status).toBe(200);
    expect(first.body.jobs.map((j: { payload: number }) => j.payload)).toEqual([1, 2]);
    expect(first.body.next).toEqual(expect.any(String));
    const second = await api.get(`/v1/queues/${queue}/jobs?state=scheduled&limit=2&cursor=${first.body.next}`);
    expect(second.body.jobs.map((j: { payload: number }) => j.payload)).toEqual([3, 4]);
    const none = await api.get(`/v1/queues/${queue}/jobs?state=dead`);
    expect(none.body).toEqual({ jobs: [], next: null });
  });

  it("lists queues with their counts", async () => {
    const queue = uniqueQueue();
    await api.post(`/v1/queues/${queue}/jobs`, { payload: 1 });
    const list = await api.get("/v1/queues");
    expect(list.status).toBe(200);
    expect(list.body.queues).toContainEqual({
      name: queue,
      counts: { scheduled: 1, active: 0, completed: 0, dead: 0, cancelled: 0 },
      flow: { limit: null, pausedUntil: null, tokens: null, groupLimits: null },
    });
  });

  it("a queue with no jobs has zero counts and an empty list", async () => {
    const queue = uniqueQueue();
    expect((await api.get(`/v1/queues/${queue}/counts`)).body).toEqual({
      scheduled: 0,
      active: 0,
      completed: 0,
      dead: 0,
      cancelled: 0,
    });
    expect((await api.get(`/v1/queues/${queue}/jobs`)).body).toEqual({ jobs: [], next: null });
  });

  it("cancels by id and by key; a second cancel says false", async () => {
    const queue = uniqueQueue();
    const a = await api.post(`/v1/queues/${queue}/jobs`, { payload: 1, delay: "1h" });
    await api.post(`/v1/queues/${queue}/jobs`, { payload: 2, delay: "1h", key: "K" });
    expect((await api.delete(`/v1/queues/${queue}/jobs/${a.body.id}`)).body).toEqual({ cancelled: true });
    expect((await api.delete(`/v1/queues/${queue}/jobs/${a.body.id}`)).body).toEqual({ cancelled: false });
    expect((await api.delete(`/v1/queues/${queue}/keys/K`)).body).toEqual({ cancelled: true });
    expect((await api.get(`/v1/queues/${queue}/counts`)).body.cancelled).toBe(2);
  });

  it("an empty body sent as JSON counts as no body (clients that always set the header)", async () => {
    const queue = uniqueQueue();
    const job = await api.post(`/v1/queues/${queue}/jobs`, { payload: 1, delay: "1h" });
    const cancelled = await api.raw("DELETE", `/v1/queues/${queue}/jobs/${job.body.id}`, "");
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toEqual({ cancelled: true });
  });

  it("reschedules by id and by key", async () => {
    const queue = uniqueQueue();
    const a = await api.post(`/v1/queues/${queue}/jobs`, { payload: 1, delay: "1h" });
    await api.post(`/v1/queues/${queue}/jobs`, { payload: 2, delay: "1h", key: "K" });
    const runAt = Date.now() + 5 * 60_000;
    const byId = await api.post(`/v1/queues/${queue}/jobs/${a.body.id}/reschedule`, { runAt });
    expect(byId.status).toBe(200);
    expect(byId.body.runAt).toBe(runAt);
    const before = Date.now();
    const byKey = await api.post(`/v1/queues/${queue}/keys/K/reschedule`, { delay: "2m" });
    expect(byKey.status).toBe(200);
    expect(byKey.body.runAt).toBeGreaterThanOrEqual(before + 120_000);
    expect(byKey.body.runAt).toBeLessThan(before + 3_600_000);
  });
});

describe("queues: bad input is refused with a typed error and changes nothing", () => {
  const refusals: [string, (queue: string) => Promise<{ status: number; body: any }>, number, string][] = [
    ["malformed JSON", (q) => api.raw("POST", `/v1/queues/${q}/jobs`, '{"payload": '), 400, "MALFORMED_JSON"],
    ["an empty body", (q) => api.raw("POST", `/v1/queues/${q}/jobs`, ""), 400, "INVALID_REQUEST"],
    [
      "a body that is not JSON",
      (q) => api.raw("POST", `/v1/queues/${q}/jobs`, "payload=1", "text/plain"),
      415,
      "UNSUPPORTED_MEDIA_TYPE",
    ],
    ["no payload", (q) => api.post(`/v1/queues/${q}/jobs`, { delay: "1s" }), 400, "INVALID_REQUEST"],
    [
      "attempts as a string",
      (q) => api.post(`/v1/queues/${q}/jobs`, { payload: 1, attempts: "3" }),
      400,
      "INVALID_REQUEST",
    ],
    [
      "delay as an object",
      (q) => api.post(`/v1/queues/${q}/jobs`, { payload: 1, delay: { s: 1 } }),
      400,
      "INVALID_REQUEST",
    ],
    ["an unknown field", (q) => api.post(`/v1/queues/${q}/jobs`, { payload: 1, dealy: "1s" }), 400, "INVALID_REQUEST"],
    ["a bad duration", (q) => api.post(`/v1/queues/${q}/jobs`, { payload: 1, delay: "soon" }), 400, "INVALID_DURATION"],
    ["a negative delay", (q) => api.post(`/v1/queues/${q}/jobs`, { payload: 1, delay: -5 }), 400, "INVALID_DURATION"],
    [
      "delay and runAt",
      (q) => api.post(`/v1/queues/${q}/jobs`, { payload: 1, delay: 1, runAt: Date.now() }),
      400,
      "INVALID_OPTION",
    ],
    [
      "a bad back-off",
      (q) => api.post(`/v1/queues/${q}/jobs`, { payload: 1, backoff: { type: "sometimes" } }),
      400,
      "INVALID_OPTION",
    ],
    ["an empty key", (q) => api.post(`/v1/queues/${q}/jobs`, { payload: 1, key: "" }), 400, "INVALID_OPTION"],
    [
      "an oversize payload",
      (q) => api.post(`/v1/queues/${q}/jobs`, { payload: "x".repeat(9 * 1024) }),
      413,
      "PAYLOAD_TOO_LARGE",
    ],
    [
      "an oversize body",
      (q) =>
        api.post(`/v1/queues/${q}/jobs/bulk`, {
          jobs: Array.from({ length: 20 }, () => ({ payload: "x".repeat(4000) })),
        }),
      413,
      "BODY_TOO_LARGE",
    ],
    [
      "a bulk add with one bad job",
      (q) => api.post(`/v1/queues/${q}/jobs/bulk`, { jobs: [{ payload: 1 }, { payload: 2, delay: "nope" }] }),
      400,
      "INVALID_DURATION",
    ],
    ["an empty bulk add", (q) => api.post(`/v1/queues/${q}/jobs/bulk`, { jobs: [] }), 400, "INVALID_REQUEST"],
    ["an unknown state", (q) => api.get(`/v1/queues/${q}/jobs?state=finished`), 400, "INVALID_REQUEST"],
    ["a limit out of range", (q) => api.get(`/v1/queues/${q}/jobs?limit=0`), 400, "INVALID_REQUEST"],
    ["an unknown job id", (q) => api.get(`/v1/queues/${q}/jobs/999999`), 404, "JOB_NOT_FOUND"],
    ["an unknown key", (q) => api.get(`/v1/queues/${q}/keys/nobody`), 404, "JOB_NOT_FOUND"],
    ["cancel of an unknown job", (q) => api.delete(`/v1/queues/${q}/jobs/999999`), 404, "JOB_NOT_FOUND"],
    [
      "reschedule of an unknown key",
      (q) => api.post(`/v1/queues/${q}/keys/nobody/reschedule`, { delay: "1s" }),
      404,
      "JOB_NOT_FOUND",
    ],
    [
      "reschedule with a bad duration",
      (q) => api.post(`/v1/queues/${q}/keys/K/reschedule`, { delay: "1 hour" }),
      400,
      "INVALID_DURATION",
    ],
    ["an invalid queue name", () => api.post("/v1/queues/has%20space/jobs", { payload: 1 }), 400, "INVALID_OPTION"],
    [
      "a reserved queue name",
      () => api.post("/v1/queues/_checkback.settings/jobs", { payload: 1 }),
      404,
      "UNKNOWN_QUEUE",
    ],
    ["an unknown route", (q) => api.post(`/v1/queues/${q}/jobz`, { payload: 1 }), 404, "NOT_FOUND"],
  ];

  for (const [what, send, status, code] of refusals) {
    it(`${what} → ${status} ${code}`, async () => {
      const queue = uniqueQueue();
      // One job with a key, so changes to existing jobs would show too.
      await api.post(`/v1/queues/${queue}/jobs`, { payload: "keep", key: "K", delay: "1h" });
      const before = await snapshot(server.checkback.store, queue);
      const answer = await send(queue);
      expect(answer.status).toBe(status);
      expect(answer.body).toEqual({ error: expect.objectContaining({ code, message: expect.any(String) }) });
      expect(await snapshot(server.checkback.store, queue)).toEqual(before);
    });
  }

  it("reschedule of a job that is not scheduled → 409 INVALID_STATE", async () => {
    const queue = uniqueQueue();
    const job = await api.post(`/v1/queues/${queue}/jobs`, { payload: 1 });
    await api.delete(`/v1/queues/${queue}/jobs/${job.body.id}`);
    const before = await snapshot(server.checkback.store, queue);
    const answer = await api.post(`/v1/queues/${queue}/jobs/${job.body.id}/reschedule`, { delay: "1m" });
    expect(answer.status).toBe(409);
    expect(answer.body.error.code).toBe("INVALID_STATE");
    expect(await snapshot(server.checkback.store, queue)).toEqual(before);
  });
});

describe("queues: a configured queue list makes other names unknown", () => {
  let strict: TestServer;
  beforeAll(async () => {
    strict = await startTestServer({ queues: ["orders", "emails"] });
  });
  afterAll(() => strict.close());

  it("known queues work and are listed even when empty", async () => {
    expect((await strict.api.post("/v1/queues/orders/jobs", { payload: 1 })).status).toBe(201);
    const list = await strict.api.get("/v1/queues");
    expect(list.body.queues.map((q: { name: string }) => q.name)).toEqual(["emails", "orders"]);
  });

  it("an unknown queue → 404 UNKNOWN_QUEUE, nothing added", async () => {
    const answer = await strict.api.post("/v1/queues/ordres/jobs", { payload: 1 });
    expect(answer.status).toBe(404);
    expect(answer.body.error.code).toBe("UNKNOWN_QUEUE");
    expect((await strict.api.get("/v1/queues/ordres/counts")).status).toBe(404);
    expect(await strict.checkback.store.queues()).toEqual(["orders"]);
  });
});
