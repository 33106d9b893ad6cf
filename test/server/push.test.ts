import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SIGNATURE_HEADER, verifySignature } from "../../packages/client/src/signature.js";
import type { PushDelivery } from "../../packages/server/src/http/push/dispatcher.js";
import {
  type Api,
  type Receiver,
  startReceiver,
  startTestServer,
  type TestServer,
  uniqueQueue,
  until,
} from "./helpers.js";

let server: TestServer;
let api: Api;
const SECRET = "a-test-secret-of-some-length";

beforeAll(async () => {
  server = await startTestServer();
  api = server.api;
});
afterAll(() => server.close());

interface Seen {
  delivery: PushDelivery;
  verified: boolean;
  at: number;
}

/** A receiver that verifies every signature and answers as `answer` says for each request (in order). */
async function receiver(answer: (n: number, delivery: PushDelivery) => number | "hang", port = 0) {
  const seen: Seen[] = [];
  const rx = await startReceiver((request, body, response) => {
    const verified = verifySignature({ secret: SECRET, body, header: request.headers[SIGNATURE_HEADER] as string }).ok;
    const delivery = JSON.parse(body) as PushDelivery;
    seen.push({ delivery, verified, at: Date.now() });
    const status = verified ? answer(seen.length, delivery) : 401;
    if (status === "hang") return; // never answers: the server's timeout must fire
    response.writeHead(status, { "content-type": "application/json" }).end("{}");
  }, port);
  return { rx, seen };
}

async function pushTo(queue: string, rx: Receiver, timeout = "2s") {
  const put = await api.put(`/v1/queues/${queue}/push`, { url: rx.url, timeout, concurrency: 4, secret: SECRET });
  expect(put.status).toBe(200);
}

const job = (queue: string, id: string) => api.get(`/v1/queues/${queue}/jobs/${id}`).then((a) => a.body);

describe("push targets", () => {
  it("PUT sets a target (showing the secret once), GET shows it without, DELETE removes it", async () => {
    const queue = uniqueQueue();
    const put = await api.put(`/v1/queues/${queue}/push`, { url: "http://127.0.0.1:9/hook" });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ queue, url: "http://127.0.0.1:9/hook", timeoutMs: 10_000, concurrency: 10 });
    expect(put.body.secret).toMatch(/^[\w-]{16,}$/);
    const got = await api.get(`/v1/queues/${queue}/push`);
    expect(got.body).toEqual({ queue, url: "http://127.0.0.1:9/hook", timeoutMs: 10_000, concurrency: 10 });
    expect((await api.delete(`/v1/queues/${queue}/push`)).body).toEqual({ deleted: true });
    const gone = await api.get(`/v1/queues/${queue}/push`);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe("PUSH_NOT_CONFIGURED");
    expect((await api.delete(`/v1/queues/${queue}/push`)).body).toEqual({ deleted: false });
  });

  for (const [what, body, code] of [
    ["no url", { timeout: "1s" }, "INVALID_REQUEST"],
    ["a relative url", { url: "/hook" }, "INVALID_OPTION"],
    ["a non-http url", { url: "ftp://127.0.0.1/hook" }, "INVALID_OPTION"],
    ["a bad timeout", { url: "http://127.0.0.1:9/", timeout: "a while" }, "INVALID_DURATION"],
    ["a timeout too short", { url: "http://127.0.0.1:9/", timeout: 5 }, "INVALID_OPTION"],
    ["concurrency 0", { url: "http://127.0.0.1:9/", concurrency: 0 }, "INVALID_REQUEST"],
    ["a short secret", { url: "http://127.0.0.1:9/", secret: "short" }, "INVALID_REQUEST"],
  ] as const) {
    it(`PUT with ${what} → 400 ${code}, no target set`, async () => {
      const queue = uniqueQueue();
      const answer = await api.put(`/v1/queues/${queue}/push`, body);
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe(code);
      expect((await api.get(`/v1/queues/${queue}/push`)).status).toBe(404);
    });
  }
});

describe("push delivery", () => {
  it("POSTs a due job, signed; 2xx completes it", async () => {
    const queue = uniqueQueue();
    const { rx, seen } = await receiver(() => 204);
    try {
      await pushTo(queue, rx);
      const added = (await api.post(`/v1/queues/${queue}/jobs`, { payload: { order: 7 }, key: "O-7" })).body;
      await until(async () => (await job(queue, added.id)).state === "completed", "completion");
      expect(seen).toHaveLength(1);
      expect(seen[0]!.verified).toBe(true);
      expect(seen[0]!.delivery).toEqual({
        id: added.id,
        queue,
        key: "O-7",
        payload: { order: 7 },
        attempt: 1,
        maxAttempts: 3,
        runAt: added.runAt,
        createdAt: added.createdAt,
      });
    } finally {
      await rx.close();
    }
  });

  it("a delayed job is pushed at its due time, not before", async () => {
    const queue = uniqueQueue();
    const { rx, seen } = await receiver(() => 200);
    try {
      await pushTo(queue, rx);
      const added = (await api.post(`/v1/queues/${queue}/jobs`, { payload: 1, delay: "300ms" })).body;
      await until(() => seen.length === 1, "delivery");
      expect(seen[0]!.at).toBeGreaterThanOrEqual(added.runAt);
    } finally {
      await rx.close();
    }
  });

  it("a receiver that fails is retried by the job's back-off until it answers 2xx", async () => {
    const queue = uniqueQueue();
    const { rx, seen } = await receiver((n) => (n <= 2 ? 503 : 200));
    try {
      await pushTo(queue, rx);
      const added = (await api.post(`/v1/queues/${queue}/jobs`, { payload: 1, attempts: 5, backoff: "100ms" })).body;
      const done = await until(async () => {
        const j = await job(queue, added.id);
        return j.state === "completed" && j;
      }, "completion");
      expect(done.attempts).toBe(3);
      expect(done.errors.map((e: { message: string }) => e.message)).toEqual([
        "receiver answered 503",
        "receiver answered 503",
      ]);
      expect(seen.map((s) => s.delivery.attempt)).toEqual([1, 2, 3]);
      expect(seen.every((s) => s.verified)).toBe(true);
    } finally {
      await rx.close();
    }
  });

  it("a receiver that does not answer in time is retried", async () => {
    const queue = uniqueQueue();
    const { rx, seen } = await receiver((n) => (n === 1 ? "hang" : 200));
    try {
      await pushTo(queue, rx, "300ms");
      const added = (await api.post(`/v1/queues/${queue}/jobs`, { payload: 1, backoff: "50ms" })).body;
      const done = await until(async () => {
        const j = await job(queue, added.id);
        return j.state === "completed" && j;
      }, "completion");
      expect(done.errors[0].message).toMatch(/did not answer within 300ms/);
      expect(seen).toHaveLength(2);
    } finally {
      await rx.close();
    }
  });

  it("a receiver that always fails sends the job to the dead letters", async () => {
    const queue = uniqueQueue();
    const { rx, seen } = await receiver(() => 500);
    try {
      await pushTo(queue, rx);
      const added = (await api.post(`/v1/queues/${queue}/jobs`, { payload: 1, attempts: 2, backoff: "50ms" })).body;
      await until(async () => (await job(queue, added.id)).state === "dead", "dead letter");
      expect(seen).toHaveLength(2);
      const dead = await api.get(`/v1/queues/${queue}/dead`);
      expect(dead.body.jobs.map((j: { id: string }) => j.id)).toEqual([added.id]);
      const metrics = (await api.get("/metrics")).body as string;
      expect(metrics).toContain(`checkback_push_deliveries_total{queue="${queue}",result="http_error"} 2`);
      expect(metrics).toContain(`checkback_dead_letters_total{queue="${queue}",delivery="push"} 1`);
    } finally {
      await rx.close();
    }
  });

  it("a wrong secret is caught by the receiver's check", async () => {
    const queue = uniqueQueue();
    const { rx, seen } = await receiver(() => 200);
    try {
      await api.put(`/v1/queues/${queue}/push`, { url: rx.url, secret: "some-other-secret-entirely" });
      const added = (await api.post(`/v1/queues/${queue}/jobs`, { payload: 1, attempts: 1 })).body;
      await until(async () => (await job(queue, added.id)).state === "dead", "dead letter");
      expect(seen[0]!.verified).toBe(false);
    } finally {
      await rx.close();
    }
  });

  it("nothing is lost while the receiver is down for a while", async () => {
    const queue = uniqueQueue();
    // Find a free port, then leave nothing listening on it.
    const probe = await receiver(() => 200);
    const port = (probe.rx.server.address() as AddressInfo).port;
    await probe.rx.close();
    await pushTo(queue, { ...probe.rx, url: `http://127.0.0.1:${port}/hook` });
    const jobs = Array.from({ length: 25 }, (_, n) => ({ payload: n, attempts: 100, backoff: "100ms" }));
    const added = (await api.post(`/v1/queues/${queue}/jobs/bulk`, { jobs })).body.jobs as { id: string }[];
    // Down: every attempt fails to connect and is retried.
    await until(
      async () => (await api.get(`/v1/queues/${queue}/jobs?state=scheduled&limit=1`)).body.jobs[0]?.attempts >= 2,
      "retries",
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // stay down a while longer
    const { rx, seen } = await receiver(() => 200, port);
    try {
      await until(
        async () => (await api.get(`/v1/queues/${queue}/counts`)).body.completed === 25,
        "all 25 completed",
        20_000,
      );
      const delivered = new Set(seen.map((s) => s.delivery.id));
      expect([...delivered].sort()).toEqual(added.map((j) => j.id).sort());
      expect(seen.every((s) => s.verified)).toBe(true);
      const counts = (await api.get(`/v1/queues/${queue}/counts`)).body;
      expect(counts).toEqual({ scheduled: 0, active: 0, completed: 25, dead: 0, cancelled: 0 });
      const metrics = (await api.get("/metrics")).body as string;
      expect(metrics).toMatch(
        new RegExp(`checkback_push_deliveries_total\\{queue="${queue}",result="network_error"\\} [1-9]`),
      );
    } finally {
      await rx.close();
    }
  });

  it("DELETE stops delivery; jobs stay for pull", async () => {
    const queue = uniqueQueue();
    const { rx, seen } = await receiver(() => 200);
    try {
      await pushTo(queue, rx);
      await api.delete(`/v1/queues/${queue}/push`);
      await api.post(`/v1/queues/${queue}/jobs`, { payload: 1 });
      const claimed = await api.post(`/v1/queues/${queue}/claim`, { wait: "200ms" });
      expect(claimed.body.jobs).toHaveLength(1);
      expect(seen).toHaveLength(0);
    } finally {
      await rx.close();
    }
  });
});
