import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SIGNATURE_HEADER, verifySignature } from "../../packages/client/src/signature.js";
import { type Api, type Receiver, startReceiver, startTestServer, type TestServer, until } from "./helpers.js";

const SECRET = "sweep-secret-0123456789";
let server: TestServer;
let api: Api;
const receivers: Receiver[] = [];

beforeAll(async () => {
  server = await startTestServer();
  api = server.api;
});
afterAll(async () => {
  await server.close();
  await Promise.all(receivers.map((receiver) => receiver.close()));
});

/** The user's service: a table of `records` served a page at a time, and an item endpoint. */
async function service(
  records: number,
  options: { pageSize?: number; page?: (cursor: string | null) => unknown; failItem?: (id: number) => boolean } = {},
) {
  const size = options.pageSize ?? 50;
  const pages: (string | null)[] = [];
  const items: { id: number; attempt: number; verified: boolean }[] = [];
  const verified = (request: import("node:http").IncomingMessage, body: string) =>
    verifySignature({ secret: SECRET, body, header: request.headers[SIGNATURE_HEADER] as string }).ok;
  const pageServer = await startReceiver((request, body, response) => {
    const { cursor } = JSON.parse(body) as { cursor: string | null };
    pages.push(cursor);
    if (!verified(request, body)) return response.writeHead(401).end();
    const from = cursor === null ? 0 : Number(cursor);
    const to = Math.min(records, from + size);
    const page = options.page?.(cursor) ?? {
      items: Array.from({ length: to - from }, (_, i) => ({ id: from + i })),
      next: to < records ? String(to) : null,
    };
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(page));
  });
  const itemServer = await startReceiver((request, body, response) => {
    const { item, attempt } = JSON.parse(body) as { item: { id: number }; attempt: number };
    items.push({ id: item.id, attempt, verified: verified(request, body) });
    response.writeHead(options.failItem?.(item.id) ? 500 : 204).end();
  });
  receivers.push(pageServer, itemServer);
  return { pageUrl: pageServer.url, itemUrl: itemServer.url, pages, items };
}

let n = 0;
const sweepName = () => `sweep-${Date.now().toString(36)}-${n++}`;

describe("sweeps over HTTP", () => {
  it("defines a sweep, runs it against 127.0.0.1 page and item URLs, and shows its progress, history and metrics", async () => {
    const name = sweepName();
    const user = await service(500, { failItem: (id) => id === 13 });
    const defined = await api.put(`/v1/sweeps/${name}`, {
      pageUrl: user.pageUrl,
      itemUrl: user.itemUrl,
      secret: SECRET,
      attempts: 1,
      backoff: "20ms",
      total: 500,
      timeout: "2s",
    });
    expect(defined.status).toBe(200);
    expect(defined.body).toMatchObject({ name, secret: SECRET, total: 500, attempts: 1 });
    expect((await api.get(`/v1/sweeps/${name}/definition`)).body).not.toHaveProperty("secret");
    expect((await api.get(`/v1/sweeps/${name}`)).body).toMatchObject({ name, state: "idle", run: null });

    const started = await api.post(`/v1/sweeps/${name}/start`);
    expect(started.status).toBe(201);
    const again = await api.post(`/v1/sweeps/${name}/start`, {});
    expect([200, 201]).toContain(again.status);
    if (again.status === 200) expect(again.body.id).toBe(started.body.id);

    const done = await until(async () => {
      const { body } = await api.get(`/v1/sweeps/${name}`);
      return body.state === "completed" && body.dead === 1 ? body : null;
    }, "the run to complete and the failing item to go dead");
    expect(done.run).toMatchObject({ pages: 10, items: 500, failed: 1, total: 500, cursor: null });
    const ids = new Set(user.items.map((item) => item.id));
    expect(ids.size).toBe(500);
    expect(user.items.every((item) => item.verified)).toBe(true);
    expect(user.items.filter((item) => item.id === 13).map((item) => item.attempt)).toEqual([1, 2]);

    const runs = await api.get(`/v1/sweeps/${name}/runs`);
    expect(runs.body.runs).toHaveLength(1);
    expect(runs.body.runs[0]).toMatchObject({ id: done.run.id, state: "completed", items: 500 });
    const list = await api.get("/v1/sweeps");
    expect(list.body.sweeps.map((s: { name: string }) => s.name)).toContain(name);

    const dead = await api.get(`/v1/sweeps/${name}/dead/jobs`);
    expect(dead.status).toBe(200);
    expect(dead.body.jobs.map((job: { payload: { item: unknown } }) => job.payload.item)).toEqual([{ id: 13 }]);

    const metrics = (await api.get("/metrics")).body as string;
    expect(metrics).toContain(`checkback_sweep_items{sweep="${name}"} 500`);
    expect(metrics).toContain(`checkback_sweep_dead_items{sweep="${name}"} 1`);
    expect(metrics).toContain(`checkback_sweep_running{sweep="${name}"} 0`);
  });

  it("records a malformed page as the run's error, and cancels a run", async () => {
    const name = sweepName();
    const user = await service(100, {
      page: (cursor) => (cursor === "50" ? { items: "nope", next: null } : undefined),
    });
    await api.put(`/v1/sweeps/${name}`, {
      pageUrl: user.pageUrl,
      itemUrl: user.itemUrl,
      secret: SECRET,
      pageAttempts: 2,
    });
    await api.post(`/v1/sweeps/${name}/start`);
    const failed = await until(
      async () => {
        const { body } = await api.get(`/v1/sweeps/${name}`);
        return body.state === "failed" ? body : null;
      },
      "the run to fail",
      15_000,
    );
    expect(failed.run).toMatchObject({ cursor: "50", items: 50 });
    expect(failed.run.error).toMatch(/items must be an array/);
    // Nothing to cancel now; a new run resumes from the cursor and is cancelled.
    expect((await api.post(`/v1/sweeps/${name}/cancel`)).body).toEqual({ cancelled: false });
    const resumed = await api.post(`/v1/sweeps/${name}/start`);
    expect(resumed.body).toMatchObject({ cursor: "50", resumedFrom: failed.run.id });
    expect((await api.post(`/v1/sweeps/${name}/cancel`)).body).toEqual({ cancelled: true });
    expect((await api.get(`/v1/sweeps/${name}`)).body.state).toBe("cancelled");
  });

  it("answers unknown sweeps and reserved queues with 404", async () => {
    const missing = await api.get("/v1/sweeps/nope-nothing");
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("SWEEP_NOT_FOUND");
    for (const queue of ["sweep.anything", "sweep-items.anything"]) {
      const reserved = await api.post(`/v1/queues/${queue}/jobs`, { payload: 1 });
      expect(reserved.status).toBe(404);
      expect(reserved.body.error).toMatchObject({ code: "UNKNOWN_QUEUE", details: { reserved: true } });
    }
    const bad = await api.put("/v1/sweeps/x", { pageUrl: "ftp://x", itemUrl: "http://127.0.0.1:1/" });
    expect(bad.status).toBe(400);
  });
});
