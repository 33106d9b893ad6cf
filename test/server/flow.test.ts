import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Api, startTestServer, type TestServer, uniqueQueue, until } from "./helpers.js";

/** Flow control over HTTP (docs/flow-control.md): limits, pauses, their metrics (groups: groups.test.ts). */

const PRODUCER = "producer-token-0001";
const CONSUMER = "consumer-token-0001";
const READER = "reader-token-000001";
const ADMIN = "admin-token-00000001";

let server: TestServer;
let api: Api;

beforeAll(async () => {
  server = await startTestServer({ tokens: `${READER}:read;${PRODUCER}:produce;${CONSUMER}:consume;${ADMIN}:admin` });
  api = server.api.as(PRODUCER);
});
afterAll(() => server.close());

const metricsText = async () => (await (await fetch(`${server.api.base}/metrics`)).text()) as string;
const gauge = (text: string, name: string, queue: string) => {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{queue="${queue}"}`));
  return line === undefined ? undefined : Number(line.split(" ").at(-1));
};

describe("rate limits and pauses over HTTP", () => {
  it("sets, shows and lifts a limit; the queue list carries it", async () => {
    const queue = uniqueQueue();
    await api.post(`/v1/queues/${queue}/jobs`, { payload: 1 });
    const set = await api.put(`/v1/queues/${queue}/limit`, { rate: 5, per: "1s" });
    expect(set.status).toBe(200);
    expect(set.body).toEqual({ limit: { rate: 5, perMs: 1000 }, pausedUntil: null, tokens: 5, groupLimits: null });
    const read = await api.as(READER).get(`/v1/queues/${queue}/flow`);
    expect(read.status).toBe(200);
    expect(read.body.limit).toEqual({ rate: 5, perMs: 1000 });
    const listed = (await api.get("/v1/queues")).body.queues.find((q: { name: string }) => q.name === queue);
    expect(listed.flow.limit).toEqual({ rate: 5, perMs: 1000 });
    expect(gauge(await metricsText(), "checkback_queue_rate_limit_per_second", queue)).toBe(5);
    const lifted = await api.delete(`/v1/queues/${queue}/limit`);
    expect(lifted.body).toEqual({ limit: null, pausedUntil: null, tokens: null, groupLimits: null });
    expect(gauge(await metricsText(), "checkback_queue_rate_limit_per_second", queue)).toBeUndefined();
  });

  it("a limit holds claims back over the pull API, and the held-back gauge counts the due jobs waiting", async () => {
    const queue = uniqueQueue();
    await api.put(`/v1/queues/${queue}/limit`, { rate: 2, per: "1m" });
    await api.post(`/v1/queues/${queue}/jobs/bulk`, { jobs: [1, 2, 3, 4, 5].map((payload) => ({ payload })) });
    const claimed = await api.as(CONSUMER).post(`/v1/queues/${queue}/claim`, { limit: 10 });
    expect(claimed.body.jobs).toHaveLength(2);
    expect((await api.get(`/v1/queues/${queue}/flow`)).body.tokens).toBe(0);
    expect(gauge(await metricsText(), "checkback_jobs_held_back", queue)).toBe(3);
  });

  it("pauses for a while and resumes; a paused queue's due jobs are held back", async () => {
    const queue = uniqueQueue();
    await api.post(`/v1/queues/${queue}/jobs`, { payload: 1 });
    const before = Date.now();
    const paused = await api.post(`/v1/queues/${queue}/pause`, { delay: "30s" });
    expect(paused.status).toBe(200);
    expect(paused.body.pausedUntil).toBeGreaterThanOrEqual(before + 29_000);
    expect((await api.as(CONSUMER).post(`/v1/queues/${queue}/claim`, { limit: 1 })).body.jobs).toHaveLength(0);
    expect(gauge(await metricsText(), "checkback_jobs_held_back", queue)).toBe(1);
    const resumed = await api.post(`/v1/queues/${queue}/resume`);
    expect(resumed.body.pausedUntil).toBeNull();
    expect(gauge(await metricsText(), "checkback_jobs_held_back", queue)).toBe(0);
    expect((await api.as(CONSUMER).post(`/v1/queues/${queue}/claim`, { limit: 1 })).body.jobs).toHaveLength(1);
  });

  it("a release with pauseQueue gives the job back without an attempt and pauses the queue until it is due", async () => {
    const queue = uniqueQueue();
    await api.post(`/v1/queues/${queue}/jobs/bulk`, { jobs: [{ payload: 1 }, { payload: 2 }] });
    const consumer = api.as(CONSUMER);
    const [job] = (await consumer.post(`/v1/queues/${queue}/claim`, { limit: 1 })).body.jobs;
    const before = Date.now();
    const released = await consumer.post(`/v1/queues/${queue}/jobs/${job.id}/release`, {
      leaseToken: job.leaseToken,
      delay: "30s",
      pauseQueue: true,
    });
    expect(released.status).toBe(200);
    const back = (await api.get(`/v1/queues/${queue}/jobs/${job.id}`)).body;
    expect(back).toMatchObject({ state: "scheduled", attempts: 0 });
    expect(back.runAt).toBeGreaterThanOrEqual(before + 29_000);
    expect((await api.get(`/v1/queues/${queue}/flow`)).body.pausedUntil).toBeGreaterThanOrEqual(before + 29_000);
    expect((await consumer.post(`/v1/queues/${queue}/claim`, { limit: 10 })).body.jobs).toHaveLength(0);
  });

  it("refuses bad limits and pauses with a typed error and keeps nothing", async () => {
    const queue = uniqueQueue();
    for (const body of [{ rate: 0, per: "1s" }, { rate: 1.5, per: "1s" }, { rate: 10, per: "0s" }, { rate: 10 }]) {
      const answer = await api.put(`/v1/queues/${queue}/limit`, body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.error.code).toMatch(/^INVALID_/);
    }
    const pause = await api.post(`/v1/queues/${queue}/pause`, {});
    expect(pause.status).toBe(400);
    expect(pause.body.error.code).toBe("INVALID_OPTION");
    expect((await api.get(`/v1/queues/${queue}/flow`)).body).toEqual({
      limit: null,
      pausedUntil: null,
      tokens: null,
      groupLimits: null,
    });
  });

  it("setting needs produce (or admin); reading needs any token", async () => {
    const queue = uniqueQueue();
    expect((await api.as(CONSUMER).put(`/v1/queues/${queue}/limit`, { rate: 1, per: "1s" })).status).toBe(403);
    expect((await api.as(READER).post(`/v1/queues/${queue}/pause`, { delay: "1s" })).status).toBe(403);
    expect((await api.as(CONSUMER).get(`/v1/queues/${queue}/flow`)).status).toBe(200);
    expect((await api.as(undefined).get(`/v1/queues/${queue}/flow`)).status).toBe(401);
  });
});

describe("a check's probe rate over HTTP", () => {
  it("becomes the check queue's rate limit, is shown with the definition, and a redefinition without it lifts it", async () => {
    const name = uniqueQueue("pay").replace(/-/g, "_");
    const admin = api.as(ADMIN);
    const definition = { probeUrl: "http://127.0.0.1:9/probe", callbackUrl: "http://127.0.0.1:9/cb", schedule: ["1h"] };
    const defined = await admin.put(`/v1/checks/${name}`, { ...definition, probeRate: { rate: 500, per: "1s" } });
    expect(defined.status, JSON.stringify(defined.body)).toBe(200);
    expect(defined.body.probeRate).toEqual({ rate: 500, per: "1s" });
    const store = server.checkback.store;
    await until(async () => (await store.flowSettings(`check.${name}`)).limit?.rate === 500, "the probe rate kept");
    expect((await admin.get(`/v1/checks/${name}`)).body.probeRate).toEqual({ rate: 500, per: "1s" });
    const bad = await admin.put(`/v1/checks/${name}`, { ...definition, probeRate: { rate: 0, per: "1s" } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("INVALID_OPTION");
    expect((await store.flowSettings(`check.${name}`)).limit).toEqual({ rate: 500, perMs: 1000 });
    expect((await admin.put(`/v1/checks/${name}`, definition)).status).toBe(200);
    await until(async () => (await store.flowSettings(`check.${name}`)).limit === null, "the probe rate lifted");
  });
});
