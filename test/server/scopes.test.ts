import Fastify from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { documentScopes } from "../../packages/server/src/http/auth.js";
import { resolveServerConfig } from "../../packages/server/src/http/config.js";
import {
  type Answer,
  type Api,
  type Receiver,
  snapshot,
  startReceiver,
  startTestServer,
  type TestServer,
  uniqueQueue,
  until,
} from "./helpers.js";

/**
 * Every route the server documents, against every kind of credential: a route answers 401/403
 * exactly when the credential lacks the scope its OpenAPI entry names, and never 2xx then.
 * Routes are read from the server's own /openapi.json, so a route added later is covered here
 * without touching this file. Then every route that names a queue is aimed at the reserved
 * queues (a defined check's queue, the settings queue): none of them may reach the check.
 */

const PRODUCER = "producer-token-0001";
const CONSUMER = "consumer-token-0001";
const ADMIN = "admin-token-00000001";
const READER = "reader-token-000001";
const UNKNOWN = "unknown-token-00001";

type Scope = "read" | "produce" | "consume" | "admin" | "any";
type Credential = { label: string; token?: string; scopes: Set<Scope> | null };

const credentials: Credential[] = [
  { label: "no token", scopes: null },
  { label: "unknown token", token: UNKNOWN, scopes: null },
  { label: "read", token: READER, scopes: new Set(["read"]) },
  { label: "produce", token: PRODUCER, scopes: new Set(["produce"]) },
  { label: "consume", token: CONSUMER, scopes: new Set(["consume"]) },
  { label: "admin", token: ADMIN, scopes: new Set(["admin"]) },
];

interface Operation {
  method: string;
  path: string;
  /** undefined: open (no token needed). */
  scope: Scope | undefined;
  /** The operation's own security requirement, as documented. */
  security: { bearer?: string[] }[] | undefined;
}

let server: TestServer;
let api: Api;
let operations: Operation[];
let callbacks: string[];
let callbackServer: Receiver;
let probeServer: Receiver;

const CHECK = uniqueQueue("pay");
const CHECK_QUEUE = `check.${CHECK}`;
const CHECK_KEY = "T-1001";

beforeAll(async () => {
  server = await startTestServer({ tokens: `${READER}:read;${PRODUCER}:produce;${CONSUMER}:consume;${ADMIN}:admin` });
  api = server.api;
  callbacks = [];
  callbackServer = await startReceiver((_request, body, response) => {
    callbacks.push(body);
    response.writeHead(200).end();
  });
  probeServer = await startReceiver((_request, _body, response) => {
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ status: "pending" }));
  });
  const defined = await api.as(ADMIN).put(`/v1/checks/${CHECK}`, {
    probeUrl: probeServer.url,
    callbackUrl: callbackServer.url,
    // Never probed during the test: the check stays running until the test resolves it.
    schedule: ["1h"],
    outcomeBackoff: "50ms",
  });
  expect(defined.status).toBe(200);
  const started = await api.as(PRODUCER).post(`/v1/checks/${CHECK}/start`, { key: CHECK_KEY, input: { card: "4111" } });
  expect(started.status).toBe(201);
  operations = documentedOperations((await api.get("/openapi.json")).body);
});

afterAll(async () => {
  await server?.close();
  await callbackServer?.close();
  await probeServer?.close();
});

function documentedOperations(doc: {
  paths: Record<string, Record<string, { security?: { bearer?: string[] }[] }>>;
}): Operation[] {
  const found: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const security = operation.security;
      // [] is open; [{ bearer: [] }] is any valid token; [{ bearer: [scope] }] needs the scope.
      const bearer = security?.[0]?.bearer;
      const scope = bearer ? ((bearer[0] ?? "any") as Scope) : undefined;
      found.push({ method: method.toUpperCase(), path, scope, security });
    }
  }
  return found;
}

function holds(credential: Credential, scope: Scope | undefined): boolean {
  if (scope === undefined) return true;
  if (!credential.scopes) return false;
  return scope === "any" || credential.scopes.has("admin") || credential.scopes.has(scope);
}

function fill(path: string, values: Record<string, string>): string {
  return path.replace(/\{(\w+)\}/g, (_all, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`no test value for path parameter ${name} in ${path}`);
    return encodeURIComponent(value);
  });
}

/** A body that would do something real on the route, so a refusal is not just a schema error. */
function bodyFor(operation: Operation, job: { id: string; leaseToken: string }, pushUrl: string): unknown {
  const forged = {
    kind: "outcome",
    outcome: {
      key: CHECK_KEY,
      checkId: job.id,
      input: { card: "4111" },
      state: "done",
      result: { paid: true, forged: true },
      reason: null,
      endedBy: "probe",
      probes: 1,
    },
  };
  const { leaseToken } = job;
  const samples: Record<string, unknown> = {
    "POST /v1/queues/{queue}/jobs": { payload: forged },
    "POST /v1/queues/{queue}/jobs/bulk": { jobs: [{ payload: forged }] },
    "POST /v1/queues/{queue}/claim": { limit: 10, lease: "30s" },
    "POST /v1/queues/{queue}/jobs/{id}/complete": { leaseToken, result: { forged: true } },
    "POST /v1/queues/{queue}/jobs/{id}/fail": { leaseToken, error: "forged" },
    "POST /v1/queues/{queue}/jobs/{id}/extend": { leaseToken, lease: "30s" },
    "POST /v1/queues/{queue}/jobs/{id}/release": { leaseToken },
    "PUT /v1/queues/{queue}/group-limits": { concurrency: 1 },
    "PUT /v1/queues/{queue}/groups/{group}/limits": { concurrency: 1, rate: { rate: 1, per: "1h" } },
    "POST /v1/queues/{queue}/groups/{group}/pause": { delay: "1h" },
    "POST /v1/queues/{queue}/jobs/{id}/reschedule": { delay: 0 },
    "POST /v1/queues/{queue}/keys/{key}/reschedule": { delay: 0 },
    "PUT /v1/queues/{queue}/push": { url: pushUrl },
    "POST /v1/queues/{queue}/dead/redrive": { all: true },
    "POST /v1/queues/{queue}/dead/purge": { all: true },
    // Names the check's queue: a schedule must not be able to add jobs there either.
    "PUT /v1/schedules/{name}": { every: "1h", queue: CHECK_QUEUE, payload: forged },
    "POST /v1/schedules/{name}/trigger": { payload: forged },
  };
  const sample = samples[`${operation.method} ${operation.path}`];
  if (sample !== undefined) return sample;
  return operation.method === "POST" || operation.method === "PUT" ? {} : undefined;
}

async function send(credential: Credential, operation: Operation, url: string, body: unknown): Promise<Answer> {
  return api.as(credential.token).send(operation.method, url, body);
}

describe("scopes: every documented route × every credential", () => {
  it("the OpenAPI document lists the routes of every family, each with its scope", () => {
    for (const { method, path, security, scope } of operations) {
      // Every operation states its access itself (an inherited global requirement would not count).
      expect(security, `${method} ${path} documents its access`).toBeDefined();
      if (security!.length > 0)
        expect(scope, `${method} ${path} names its scope`).toMatch(/^(produce|consume|admin|any)$/);
    }
    const paths = new Set(operations.map((o) => `${o.method} ${o.path}`));
    for (const expected of [
      "GET /v1/queues",
      "POST /v1/queues/{queue}/jobs",
      "POST /v1/queues/{queue}/claim",
      "GET /v1/queues/{queue}/dead",
      "PUT /v1/queues/{queue}/push",
      "PUT /v1/queues/{queue}/group-limits",
      "GET /v1/queues/{queue}/groups",
      "POST /v1/queues/{queue}/groups/{group}/pause",
      "PUT /v1/checks/{name}",
      "GET /v1/checks/{name}/{key}",
      "GET /v1/schedules",
      "PUT /v1/schedules/{name}",
      "POST /v1/schedules/{name}/trigger",
      "GET /v1/checks",
      "GET /v1/overview",
      "GET /v1/token",
      "GET /healthz",
    ]) {
      expect(paths, expected).toContain(expected);
    }
  });

  it("401/403 exactly when the documented scope is not held; never 2xx then", async () => {
    const queue = uniqueQueue();
    const added = await api.as(PRODUCER).post(`/v1/queues/${queue}/jobs`, { payload: 1, key: "K", delay: "1h" });
    expect(added.status).toBe(201);
    const values = { queue, id: added.body.id, key: "absent-key", name: CHECK, group: "merchant-7" };
    const job = { id: added.body.id as string, leaseToken: "not-a-lease" };
    const failures: string[] = [];
    for (const operation of operations) {
      const url = fill(operation.path, values);
      for (const credential of credentials) {
        // A refused connection: jobs pushed from the ordinary queue go nowhere near the callback.
        const answer = await send(credential, operation, url, bodyFor(operation, job, "http://127.0.0.1:9/none"));
        const refused = answer.status === 401 || answer.status === 403;
        const what = `${operation.method} ${operation.path} as ${credential.label} (scope ${operation.scope ?? "open"}) → ${answer.status}`;
        if (holds(credential, operation.scope)) {
          if (refused) failures.push(`${what}: refused although the scope is held`);
        } else {
          if (!refused) failures.push(`${what}: not refused`);
          const expected = credential.scopes ? 403 : 401;
          if (answer.status !== expected) failures.push(`${what}: expected ${expected}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it("check status (it shows the check's input) needs produce, not just any token", async () => {
    const path = `/v1/checks/${CHECK}/${CHECK_KEY}`;
    expect((await api.as(CONSUMER).get(path)).status).toBe(403);
    expect((await api.as(PRODUCER).get(path)).body).toMatchObject({ state: "running", input: { card: "4111" } });
  });
});

describe("reserved queues are out of reach of the generic routes", () => {
  it("a produce token cannot forge a signed outcome by adding to the check's queue", async () => {
    const before = await snapshot(server.checkback.store, CHECK_QUEUE);
    const status = (await api.as(PRODUCER).get(`/v1/checks/${CHECK}/${CHECK_KEY}`)).body;
    const forged = await api.as(PRODUCER).post(`/v1/queues/${CHECK_QUEUE}/jobs`, {
      payload: {
        kind: "outcome",
        outcome: {
          key: CHECK_KEY,
          checkId: status.checkId,
          input: null,
          state: "done",
          result: { forged: true },
          reason: null,
          endedBy: "probe",
          probes: 1,
        },
      },
    });
    expect(forged.status).toBe(404);
    expect(forged.body.error).toMatchObject({ code: "UNKNOWN_QUEUE", details: { queue: CHECK_QUEUE, reserved: true } });
    expect(await snapshot(server.checkback.store, CHECK_QUEUE)).toEqual(before);
  });

  it("a consume token cannot claim the check's probe job, so cannot end it", async () => {
    const before = await snapshot(server.checkback.store, CHECK_QUEUE);
    const claimed = await api.as(CONSUMER).post(`/v1/queues/${CHECK_QUEUE}/claim`, { limit: 10, lease: "30s" });
    expect(claimed.status).toBe(404);
    expect(claimed.body.error.code).toBe("UNKNOWN_QUEUE");
    expect(await snapshot(server.checkback.store, CHECK_QUEUE)).toEqual(before);
  });

  it("no route that names a queue reaches a check's queue or the settings queue, whoever asks", async () => {
    const probeJob = (await server.checkback.store.getByKey(CHECK_QUEUE, `check:${CHECK_KEY}`))!;
    expect(probeJob.state).toBe("scheduled");
    const settingsJob = (await server.checkback.store.list("_checkback.settings", "scheduled", { limit: 1 })).jobs[0]!;
    // The probe job's own group, when it has one: no group route may reach it either.
    const group = probeJob.group ?? "merchant-7";
    const reserved = [
      { queue: CHECK_QUEUE, id: probeJob.id, key: probeJob.key!, group },
      { queue: `check.${uniqueQueue("undefined")}`, id: "1", key: "check:K", group },
      { queue: "_checkback.settings", id: settingsJob.id, key: settingsJob.key!, group },
    ];
    const beforeCheck = await snapshot(server.checkback.store, CHECK_QUEUE);
    const beforeSettings = await snapshot(server.checkback.store, "_checkback.settings");
    const queueRoutes = operations.filter((o) => o.path.includes("{queue}"));
    expect(queueRoutes.length).toBeGreaterThan(15);
    const failures: string[] = [];
    for (const target of reserved) {
      for (const operation of queueRoutes) {
        const url = fill(operation.path, target);
        for (const credential of credentials.filter((c) => holds(c, operation.scope))) {
          const answer = await send(
            credential,
            operation,
            url,
            bodyFor(operation, { id: target.id, leaseToken: "x" }, callbackServer.url),
          );
          const what = `${operation.method} ${url} as ${credential.label} → ${answer.status} ${JSON.stringify(answer.body)}`;
          if (answer.status !== 404 || answer.body?.error?.code !== "UNKNOWN_QUEUE") failures.push(what);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(await snapshot(server.checkback.store, CHECK_QUEUE)).toEqual(beforeCheck);
    expect(await snapshot(server.checkback.store, "_checkback.settings")).toEqual(beforeSettings);
    const status = (await api.as(PRODUCER).get(`/v1/checks/${CHECK}/${CHECK_KEY}`)).body;
    expect(status).toMatchObject({ state: "running", probes: 0, outcome: null });
  });

  it("the queue list shows no reserved queue, to any token", async () => {
    for (const credential of credentials.filter((c) => c.scopes)) {
      const answer = await api.as(credential.token).get("/v1/queues");
      expect(answer.status).toBe(200);
      const names = answer.body.queues.map((q: { name: string }) => q.name) as string[];
      expect(names.filter((name) => name.startsWith("check.") || name.startsWith("_checkback"))).toEqual([]);
    }
  });

  it("names that only look like reserved ones are ordinary queues", async () => {
    for (const queue of [`checkout-${uniqueQueue()}`, `check-${uniqueQueue()}`, `checks.${uniqueQueue()}`]) {
      expect((await api.as(PRODUCER).post(`/v1/queues/${queue}/jobs`, { payload: 1 })).status, queue).toBe(201);
      expect((await api.as(CONSUMER).post(`/v1/queues/${queue}/claim`, {})).body.jobs, queue).toHaveLength(1);
    }
  });

  it("after all that, the check's only outcome is the one its own routes give it", async () => {
    const resolved = await api.as(PRODUCER).post(`/v1/checks/${CHECK}/${CHECK_KEY}/resolve`, { result: "real" });
    expect(resolved.body).toEqual({ resolved: true });
    await until(async () => {
      const s = (await api.as(PRODUCER).get(`/v1/checks/${CHECK}/${CHECK_KEY}`)).body;
      return s.outcome?.state === "completed";
    }, "the outcome delivered");
    expect(callbacks.map((body) => JSON.parse(body))).toEqual([
      expect.objectContaining({ key: CHECK_KEY, state: "done", result: "real", endedBy: "resolve" }),
    ]);
  });
});

describe("a check's dead letters are reached through its own routes", () => {
  it("lists, shows and redrives an outcome delivery that gave up; the queue routes cannot", async () => {
    let answerCallbacks = 500;
    const delivered: string[] = [];
    const callback = await startReceiver((_request, body, response) => {
      if (answerCallbacks === 200) delivered.push(body);
      response.writeHead(answerCallbacks).end();
    });
    try {
      const name = uniqueQueue("dlq");
      const admin = api.as(ADMIN);
      await admin.put(`/v1/checks/${name}`, {
        probeUrl: probeServer.url,
        callbackUrl: callback.url,
        schedule: ["1h"],
        outcomeAttempts: 1,
      });
      await api.as(PRODUCER).post(`/v1/checks/${name}/start`, { key: "K" });
      await api.as(PRODUCER).post(`/v1/checks/${name}/K/reject`, { reason: "closed" });
      const page = await until(async () => {
        const answer = await admin.get(`/v1/checks/${name}/dead/jobs`);
        return answer.body.jobs?.length === 1 && answer.body;
      }, "the outcome delivery to go dead");
      const dead = page.jobs[0];
      expect((await admin.get(`/v1/checks/${name}/dead/jobs/${dead.id}`)).body).toMatchObject({ state: "dead" });
      expect((await api.as(PRODUCER).get(`/v1/checks/${name}/dead/jobs`)).status).toBe(403);
      expect((await admin.get(`/v1/queues/check.${name}/dead`)).body.error.code).toBe("UNKNOWN_QUEUE");
      // A check the library runs on the same store, not defined on this server, has dead letters too.
      expect((await admin.get(`/v1/checks/${uniqueQueue("library")}/dead/jobs`)).body).toEqual({
        jobs: [],
        next: null,
      });
      answerCallbacks = 200;
      expect((await admin.post(`/v1/checks/${name}/dead/redrive`, { ids: [dead.id] })).body).toEqual({ redriven: 1 });
      await until(() => delivered.length === 1, "the redriven outcome delivered");
      expect(JSON.parse(delivered[0]!)).toMatchObject({ name, key: "K", state: "failed", reason: "closed" });
      // A check key may be "dead": its status is still where it always was.
      await api.as(PRODUCER).post(`/v1/checks/${name}/start`, { key: "dead" });
      expect((await api.as(PRODUCER).get(`/v1/checks/${name}/dead`)).body).toMatchObject({
        key: "dead",
        state: "running",
      });
    } finally {
      await callback.close();
    }
  });
});

describe("reserved names elsewhere", () => {
  it("a configured queue list naming a reserved queue stops the server at start", () => {
    for (const queues of ["orders,check.payment", "_checkback.settings"]) {
      expect(() => resolveServerConfig({ store: "memory:", queues }), queues).toThrow(/reserved/);
    }
    expect(resolveServerConfig({ store: "memory:", queues: "checkout,check-x" }).queues).toEqual([
      "checkout",
      "check-x",
    ]);
  });

  it("a route that declares no scope is refused when it is added, not left open", async () => {
    const app = Fastify();
    documentScopes(app);
    expect(() => app.get("/v1/forgotten", async () => ({}))).toThrow(/declares no scope/);
    app.get("/v1/open", { schema: { security: [] } }, async () => ({}));
    await app.close();
  });
});
