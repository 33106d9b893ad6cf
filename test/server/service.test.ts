import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Api, startTestServer, type TestServer, uniqueQueue } from "./helpers.js";

let server: TestServer;
let api: Api;

beforeAll(async () => {
  server = await startTestServer();
  api = server.api;
});
afterAll(() => server.close());

describe("service endpoints", () => {
  it("health and readiness", async () => {
    expect((await api.get("/healthz")).body).toEqual({ status: "ok" });
    expect((await api.get("/readyz")).body).toEqual({ status: "ready", store: "memory" });
  });

  it("serves an OpenAPI document covering every endpoint, and a docs page", async () => {
    const doc = (await api.get("/openapi.json")).body;
    expect(doc.openapi).toMatch(/^3\./);
    const paths = Object.keys(doc.paths);
    for (const path of [
      "/v1/queues",
      "/v1/queues/{queue}/jobs",
      "/v1/queues/{queue}/jobs/bulk",
      "/v1/queues/{queue}/counts",
      "/v1/queues/{queue}/jobs/{id}",
      "/v1/queues/{queue}/keys/{key}",
      "/v1/queues/{queue}/jobs/{id}/reschedule",
      "/v1/queues/{queue}/keys/{key}/reschedule",
      "/v1/queues/{queue}/dead",
      "/v1/queues/{queue}/dead/{id}",
      "/v1/queues/{queue}/dead/redrive",
      "/v1/queues/{queue}/dead/purge",
      "/v1/queues/{queue}/claim",
      "/v1/queues/{queue}/jobs/{id}/complete",
      "/v1/queues/{queue}/jobs/{id}/fail",
      "/v1/queues/{queue}/jobs/{id}/extend",
      "/v1/queues/{queue}/jobs/{id}/release",
      "/v1/queues/{queue}/push",
    ]) {
      expect(paths, path).toContain(path);
    }
    const add = doc.paths["/v1/queues/{queue}/jobs"].post;
    expect(add.requestBody.content["application/json"].schema.required).toEqual(["payload"]);
    expect(Object.keys(add.responses)).toEqual(expect.arrayContaining(["200", "201", "4XX"]));
    const docs = await fetch(`${api.base}/docs/`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain("<html");
  });

  it("exposes Prometheus metrics: jobs by state, lateness, processing, retries, dead letters", async () => {
    const queue = uniqueQueue("metrics");
    await api.post(`/v1/queues/${queue}/jobs/bulk`, {
      jobs: [{ payload: 1 }, { payload: 2, attempts: 1 }, { payload: 3 }, { payload: 4, delay: "1h" }],
    });
    const claimed = (await api.post(`/v1/queues/${queue}/claim`, { limit: 3 })).body.jobs;
    await api.post(`/v1/queues/${queue}/jobs/${claimed[0].id}/complete`, { leaseToken: claimed[0].leaseToken });
    await api.post(`/v1/queues/${queue}/jobs/${claimed[1].id}/fail`, { leaseToken: claimed[1].leaseToken, error: "x" });
    await api.post(`/v1/queues/${queue}/jobs/${claimed[2].id}/fail`, { leaseToken: claimed[2].leaseToken, error: "y" });
    const response = await fetch(`${api.base}/metrics`);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await response.text();
    const expected = [
      `checkback_jobs{queue="${queue}",state="scheduled"} 2`,
      `checkback_jobs{queue="${queue}",state="completed"} 1`,
      `checkback_jobs{queue="${queue}",state="dead"} 1`,
      `checkback_jobs_added_total{queue="${queue}",outcome="created"} 4`,
      `checkback_job_lateness_seconds_count{queue="${queue}",delivery="pull"} 3`,
      `checkback_job_processing_seconds_count{queue="${queue}",delivery="pull",outcome="completed"} 1`,
      `checkback_jobs_completed_total{queue="${queue}",delivery="pull"} 1`,
      `checkback_job_retries_total{queue="${queue}",delivery="pull"} 1`,
      `checkback_dead_letters_total{queue="${queue}",delivery="pull"} 1`,
    ];
    for (const line of expected) expect(text).toContain(line);
    expect(text).toMatch(
      /checkback_http_request_duration_seconds_count\{method="POST",route="\/v1\/queues\/:queue\/claim",status="200"\} \d+/,
    );
    expect(text).toContain("checkback_process_resident_memory_bytes");
    expect(text).not.toContain("_checkback.settings");
  });
});
