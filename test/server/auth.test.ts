import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseTokens } from "../../packages/server/src/http/auth.js";
import { type Api, snapshot, startTestServer, type TestServer, uniqueQueue } from "./helpers.js";

const PRODUCER = "producer-token-1";
const CONSUMER = "consumer-token-1";
const ADMIN = "admin-token-0001";

let server: TestServer;
let api: Api;

beforeAll(async () => {
  server = await startTestServer({ tokens: `${PRODUCER}:produce;${CONSUMER}:consume;${ADMIN}:admin` });
  api = server.api;
});
afterAll(() => server.close());

describe("auth", () => {
  it("health, readiness, metrics and the OpenAPI document are open", async () => {
    for (const path of ["/healthz", "/readyz", "/metrics", "/openapi.json"]) {
      expect((await api.get(path)).status, path).toBe(200);
    }
  });

  it("no token → 401 UNAUTHORIZED, nothing added", async () => {
    const queue = uniqueQueue();
    const before = await snapshot(server.checkback.store, queue);
    const answer = await api.post(`/v1/queues/${queue}/jobs`, { payload: 1 });
    expect(answer.status).toBe(401);
    expect(answer.body.error.code).toBe("UNAUTHORIZED");
    expect(await snapshot(server.checkback.store, queue)).toEqual(before);
  });

  it("an unknown token → 401, a malformed header → 401", async () => {
    const queue = uniqueQueue();
    expect((await api.as("not-a-known-token").post(`/v1/queues/${queue}/jobs`, { payload: 1 })).status).toBe(401);
    const basic = await fetch(`${api.base}/v1/queues`, { headers: { authorization: `Basic ${PRODUCER}` } });
    expect(basic.status).toBe(401);
    expect(await server.checkback.store.queues()).not.toContain(queue);
  });

  it("a token without the route's scope → 403 FORBIDDEN, nothing changes", async () => {
    const queue = uniqueQueue();
    const added = await api.as(PRODUCER).post(`/v1/queues/${queue}/jobs`, { payload: 1 });
    expect(added.status).toBe(201);
    const before = await snapshot(server.checkback.store, queue);
    const cases: [string, string, string, unknown?][] = [
      [CONSUMER, "POST", `/v1/queues/${queue}/jobs`, { payload: 2 }],
      [PRODUCER, "POST", `/v1/queues/${queue}/claim`, {}],
      [PRODUCER, "GET", `/v1/queues/${queue}/dead`],
      [PRODUCER, "POST", `/v1/queues/${queue}/dead/purge`, { all: true }],
      [CONSUMER, "PUT", `/v1/queues/${queue}/push`, { url: "http://127.0.0.1:9/" }],
      [CONSUMER, "DELETE", `/v1/queues/${queue}/jobs/${added.body.id}`],
    ];
    for (const [token, method, path, body] of cases) {
      const answer = await api.as(token).send(method, path, body);
      expect(answer.status, `${method} ${path}`).toBe(403);
      expect(answer.body.error).toMatchObject({ code: "FORBIDDEN" });
    }
    expect(await snapshot(server.checkback.store, queue)).toEqual(before);
  });

  it("each scope does its own work; any token reads; admin does everything", async () => {
    const queue = uniqueQueue();
    const added = await api.as(PRODUCER).post(`/v1/queues/${queue}/jobs`, { payload: 1 });
    expect((await api.as(CONSUMER).get(`/v1/queues/${queue}/jobs/${added.body.id}`)).status).toBe(200);
    const claimed = await api.as(CONSUMER).post(`/v1/queues/${queue}/claim`, {});
    expect(claimed.body.jobs).toHaveLength(1);
    expect((await api.as(ADMIN).get(`/v1/queues/${queue}/dead`)).status).toBe(200);
    expect((await api.as(ADMIN).post(`/v1/queues/${queue}/jobs`, { payload: 2 })).status).toBe(201);
    expect((await api.as(ADMIN).post(`/v1/queues/${queue}/claim`, {})).body.jobs).toHaveLength(1);
  });

  it("parses token lists and refuses bad ones", () => {
    expect(parseTokens("tokA-123456:produce,consume; tokB-123456:admin")).toEqual([
      { token: "tokA-123456", scopes: ["produce", "consume"] },
      { token: "tokB-123456", scopes: ["admin"] },
    ]);
    expect(() => parseTokens("short:admin")).toThrow(/at least 8/);
    expect(() => parseTokens("long-enough-token:root")).toThrow(/unknown scope/);
    expect(() => parseTokens("no-scope-given-here")).toThrow(/token:scope/);
  });
});
