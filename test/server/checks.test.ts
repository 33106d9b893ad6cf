import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CheckOutcome } from "../../packages/checkback/src/checks/types.js";
import { SIGNATURE_HEADER, verifySignature } from "../../packages/client/src/signature.js";
import type { ProbeRequest } from "../../packages/server/src/http/checks/http-check.js";
import {
  type Api,
  type Receiver,
  snapshot,
  startReceiver,
  startTestServer,
  type TestServer,
  uniqueQueue,
  until,
} from "./helpers.js";

const SECRET = "check-secret-0123456789";
let server: TestServer;
let api: Api;

beforeAll(async () => {
  server = await startTestServer();
  api = server.api;
});
afterAll(() => server.close());

/** A payment gateway sandbox: answers probes per key from `answers`, records callbacks. */
class Gateway {
  probes: { request: ProbeRequest; verified: boolean }[] = [];
  callbacks: { outcome: CheckOutcome<unknown, unknown>; verified: boolean }[] = [];
  probeServer!: Receiver;
  callbackServer!: Receiver;

  constructor(
    private readonly answer: (request: ProbeRequest) => { status: number; body: unknown },
    private readonly callbackStatus: (n: number) => number = () => 200,
  ) {}

  async start(): Promise<this> {
    this.probeServer = await startReceiver((request, body, response) => {
      const verified = verifySignature({
        secret: SECRET,
        body,
        header: request.headers[SIGNATURE_HEADER] as string,
      }).ok;
      const probe = JSON.parse(body) as ProbeRequest;
      this.probes.push({ request: probe, verified });
      const { status, body: answer } = this.answer(probe);
      response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(answer));
    });
    this.callbackServer = await startReceiver((request, body, response) => {
      const verified = verifySignature({
        secret: SECRET,
        body,
        header: request.headers[SIGNATURE_HEADER] as string,
      }).ok;
      this.callbacks.push({ outcome: JSON.parse(body), verified });
      response.writeHead(this.callbackStatus(this.callbacks.length)).end();
    });
    return this;
  }

  async close(): Promise<void> {
    await Promise.all([this.probeServer.close(), this.callbackServer.close()]);
  }
}

async function define(name: string, gateway: Gateway, extra: Record<string, unknown> = {}) {
  const answer = await api.put(`/v1/checks/${name}`, {
    probeUrl: gateway.probeServer.url,
    callbackUrl: gateway.callbackServer.url,
    schedule: { every: "50ms", times: 5 },
    timeout: "2s",
    secret: SECRET,
    outcomeBackoff: "50ms",
    ...extra,
  });
  expect(answer.status).toBe(200);
  return answer.body;
}

describe("checks over HTTP", () => {
  it("defines a check; GET shows it without the secret", async () => {
    const name = uniqueQueue("pay");
    const put = await api.put(`/v1/checks/${name}`, {
      probeUrl: "http://127.0.0.1:9/probe",
      callbackUrl: "http://127.0.0.1:9/callback",
      schedule: ["10s", "30s", "1m"],
      deadline: "30m",
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ name, schedule: ["10s", "30s", "1m"], deadline: "30m", timeoutMs: 10_000 });
    expect(put.body.secret).toEqual(expect.any(String));
    const got = await api.get(`/v1/checks/${name}`);
    expect(got.body).toMatchObject({ name, probeUrl: "http://127.0.0.1:9/probe" });
    expect(got.body.secret).toBeUndefined();
  });

  it("probes until the party answers done, then POSTs the outcome to the callback", async () => {
    const gateway = await new Gateway((probe) =>
      probe.probe < 3
        ? { status: 200, body: { status: "pending" } }
        : { status: 200, body: { status: "done", result: { paid: probe.input } } },
    ).start();
    try {
      const name = uniqueQueue("pay");
      await define(name, gateway);
      const started = await api.post(`/v1/checks/${name}/start`, { key: "T-1", input: 100 });
      expect(started.status).toBe(201);
      expect(started.body).toMatchObject({ name, key: "T-1", state: "running", input: 100, created: true });
      await until(() => gateway.callbacks.length === 1, "the outcome callback");
      expect(gateway.callbacks[0]).toMatchObject({
        verified: true,
        outcome: { name, key: "T-1", state: "done", result: { paid: 100 }, endedBy: "probe", probes: 3 },
      });
      expect(gateway.probes.map((p) => p.request.probe)).toEqual([1, 2, 3]);
      expect(gateway.probes.every((p) => p.verified)).toBe(true);
      const status = await until(async () => {
        const s = (await api.get(`/v1/checks/${name}/T-1`)).body;
        return s.outcome?.state === "completed" && s;
      }, "outcome delivered");
      expect(status).toMatchObject({ state: "done", probes: 3, result: { paid: 100 } });
      expect(status.history.map((h: { answer: string }) => h.answer)).toEqual(["pending", "pending", "done"]);
      const metrics = (await api.get("/metrics")).body as string;
      expect(metrics).toContain(`checkback_check_outcomes_total{check="${name}",outcome="done"} 1`);
    } finally {
      await gateway.close();
    }
  });

  it("a probe error is absorbed by the schedule; running out gives up", async () => {
    const gateway = await new Gateway((probe) =>
      probe.probe === 1 ? { status: 500, body: {} } : { status: 200, body: { status: "pending" } },
    ).start();
    try {
      const name = uniqueQueue("pay");
      await define(name, gateway, { schedule: { every: "30ms", times: 3 } });
      await api.post(`/v1/checks/${name}/start`, { key: "K" });
      await until(() => gateway.callbacks.length === 1, "the gave-up callback");
      expect(gateway.callbacks[0]!.outcome).toMatchObject({
        state: "gave_up",
        reason: "schedule exhausted",
        probes: 3,
      });
      const status = (await api.get(`/v1/checks/${name}/K`)).body;
      expect(status.history.map((h: { answer: string }) => h.answer)).toEqual(["error", "pending", "pending"]);
      expect(status.history[0].error).toMatch(/receiver answered 500/);
    } finally {
      await gateway.close();
    }
  });

  it("the party's own notification resolves it first, exactly once", async () => {
    const gateway = await new Gateway(() => ({ status: 200, body: { status: "pending" } })).start();
    try {
      const name = uniqueQueue("pay");
      await define(name, gateway, { schedule: ["1h"] });
      await api.post(`/v1/checks/${name}/start`, { key: "T-2", input: { amount: 5 } });
      const again = await api.post(`/v1/checks/${name}/start`, { key: "T-2", input: { amount: 6 } });
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ created: false, input: { amount: 5 } });
      expect((await api.post(`/v1/checks/${name}/T-2/resolve`, { result: "paid" })).body).toEqual({ resolved: true });
      expect((await api.post(`/v1/checks/${name}/T-2/resolve`, { result: "paid" })).body).toEqual({ resolved: false });
      await until(() => gateway.callbacks.length === 1, "the done callback");
      expect(gateway.callbacks[0]!.outcome).toMatchObject({ state: "done", result: "paid", endedBy: "resolve" });
      expect(gateway.probes).toHaveLength(0);
    } finally {
      await gateway.close();
    }
  });

  it("reject ends it as failed; a failing callback is retried until it answers 2xx", async () => {
    const gateway = await new Gateway(
      () => ({ status: 200, body: { status: "pending" } }),
      (n) => (n < 3 ? 503 : 200),
    ).start();
    try {
      const name = uniqueQueue("pay");
      await define(name, gateway, { schedule: ["1h"] });
      await api.post(`/v1/checks/${name}/start`, { key: "T-3" });
      expect((await api.post(`/v1/checks/${name}/T-3/reject`, { reason: "closed" })).body).toEqual({ rejected: true });
      await until(() => gateway.callbacks.length === 3, "three callback attempts");
      const status = await until(async () => {
        const s = (await api.get(`/v1/checks/${name}/T-3`)).body;
        return s.outcome?.state === "completed" && s;
      }, "outcome delivered");
      expect(status).toMatchObject({ state: "failed", reason: "closed", outcome: { attempts: 3 } });
    } finally {
      await gateway.close();
    }
  });

  it("cancel stops it without an outcome", async () => {
    const gateway = await new Gateway(() => ({ status: 200, body: { status: "pending" } })).start();
    try {
      const name = uniqueQueue("pay");
      await define(name, gateway, { schedule: ["1h"] });
      await api.post(`/v1/checks/${name}/start`, { key: "T-4" });
      expect((await api.delete(`/v1/checks/${name}/T-4`)).body).toEqual({ cancelled: true });
      expect((await api.get(`/v1/checks/${name}/T-4`)).body.state).toBe("cancelled");
      expect((await api.post(`/v1/checks/${name}/T-4/resolve`, { result: 1 })).body).toEqual({ resolved: false });
      expect(gateway.callbacks).toHaveLength(0);
    } finally {
      await gateway.close();
    }
  });
});

describe("checks: bad input", () => {
  const base = { probeUrl: "http://127.0.0.1:9/p", callbackUrl: "http://127.0.0.1:9/c" };
  for (const [what, body, code] of [
    ["no schedule", { ...base }, "INVALID_REQUEST"],
    ["an empty schedule", { ...base, schedule: [] }, "INVALID_OPTION"],
    ["a bad interval", { ...base, schedule: ["10s", "later"] }, "INVALID_DURATION"],
    ["every without times or deadline", { ...base, schedule: { every: "10s" } }, "INVALID_OPTION"],
    ["a bad deadline", { ...base, schedule: ["1s"], deadline: "never" }, "INVALID_DURATION"],
    ["a bad probe url", { ...base, probeUrl: "gateway/probe", schedule: ["1s"] }, "INVALID_OPTION"],
    ["an unknown field", { ...base, schedule: ["1s"], retries: 3 }, "INVALID_REQUEST"],
  ] as const) {
    it(`defining with ${what} → 400 ${code}, nothing defined`, async () => {
      const name = uniqueQueue("bad");
      const answer = await api.put(`/v1/checks/${name}`, body);
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe(code);
      expect((await api.get(`/v1/checks/${name}`)).status).toBe(404);
    });
  }

  it("an unknown check → 404 CHECK_NOT_FOUND; an unknown key → 404; a start without a key → 400", async () => {
    const started = await api.post(`/v1/checks/${uniqueQueue("nope")}/start`, { key: "K" });
    expect(started.status).toBe(404);
    expect(started.body.error.code).toBe("CHECK_NOT_FOUND");
    const name = uniqueQueue("pay");
    await api.put(`/v1/checks/${name}`, { ...base, schedule: ["1h"] });
    const queue = `check.${name}`;
    const before = await snapshot(server.checkback.store, queue);
    const missing = await api.get(`/v1/checks/${name}/nobody`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("JOB_NOT_FOUND");
    expect((await api.post(`/v1/checks/${name}/nobody/resolve`, { result: 1 })).status).toBe(404);
    const noKey = await api.post(`/v1/checks/${name}/start`, { input: 1 });
    expect(noKey.status).toBe(400);
    expect(noKey.body.error.code).toBe("INVALID_REQUEST");
    const malformed = await api.raw("POST", `/v1/checks/${name}/start`, '{"key":');
    expect(malformed.body.error.code).toBe("MALFORMED_JSON");
    expect(await snapshot(server.checkback.store, queue)).toEqual(before);
    await api.post(`/v1/checks/${name}/start`, { key: "RUNNING" });
    const running = await snapshot(server.checkback.store, queue);
    for (const [path, body] of [
      ["RUNNING/reject", {}],
      ["RUNNING/reject", { reason: 42 }],
      ["RUNNING/resolve", { result: 1, extra: true }],
    ] as const) {
      const answer = await api.post(`/v1/checks/${name}/${path}`, body);
      expect(answer.status, path).toBe(400);
      expect(answer.body.error.code, path).toBe("INVALID_REQUEST");
    }
    expect(await snapshot(server.checkback.store, queue)).toEqual(running);
    expect((await api.get(`/v1/checks/${name}/RUNNING`)).body.state).toBe("running");
  });
});
