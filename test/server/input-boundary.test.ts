import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryStore } from "../../packages/checkback/src/stores/memory/memory-store.js";
import { PostgresStore } from "../../packages/checkback/src/stores/postgres/postgres-store.js";
import type { Store } from "../../packages/checkback/src/stores/store.js";
import { DATABASE_URL, dropSchema, postgresReachable, randomSchema } from "../support/postgres-env.js";
import { type Answer, snapshot, startTestServer, type TestServer, uniqueQueue } from "./helpers.js";

/**
 * Input the stores cannot keep, sent over HTTP: each is a 400 in the documented error shape,
 * never a 500, and a refused request changes nothing — on PostgreSQL above all, whose text
 * columns refuse NUL and whose driver rewrites unpaired surrogates.
 */
interface Backend {
  name: string;
  open(): Promise<{ store: Store; close(): Promise<void> }>;
}

const schema = randomSchema("cbinput");
const backends: Backend[] = [
  { name: "memory", open: async () => ({ store: new MemoryStore(), close: async () => {} }) },
];
if (await postgresReachable()) {
  backends.push({
    name: "postgres",
    open: async () => {
      const store = new PostgresStore({ connectionString: DATABASE_URL, schema });
      return { store, close: () => dropSchema(schema) };
    },
  });
}

/** A nested array `depth` deep, as JSON text (too deep for any recursive walk to survive). */
const deepJson = (depth: number) => `${"[".repeat(depth)}"30s"${"]".repeat(depth)}`;

/** A request sent exactly as given: the path is not normalized (fetch would turn /x/.. into /). */
function rawRequest(server: TestServer, method: string, path: string, body?: string): Promise<Answer> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: body === undefined ? {} : { "content-type": "application/json" },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null, headers: new Headers() });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function expectRefused(answer: Answer, codes: string[]): void {
  expect(answer.status).toBe(400);
  expect(answer.body).toEqual({ error: expect.objectContaining({ message: expect.any(String) }) });
  expect(codes).toContain(answer.body.error.code);
}

for (const backend of backends) {
  describe(`server input boundary on ${backend.name}`, () => {
    let server: TestServer;
    let opened: Awaited<ReturnType<Backend["open"]>>;
    beforeAll(async () => {
      opened = await backend.open();
      server = await startTestServer({}, opened.store);
    });
    afterAll(async () => {
      await server?.close();
      await opened?.close();
    });

    it("refuses keys with NUL or unpaired surrogates with 400, and commits nothing", async () => {
      const queue = uniqueQueue();
      await server.api.post(`/v1/queues/${queue}/jobs`, { payload: 1, key: "kept" });
      const before = await snapshot(opened.store, queue);
      // Raw JSON text: an unpaired surrogate survives JSON.parse as one, which is the point.
      for (const key of ['"nul\\u0000key"', '"lone\\ud800"', '"\\udc00"']) {
        const one = await server.api.raw("POST", `/v1/queues/${queue}/jobs`, `{"payload":1,"key":${key}}`);
        expectRefused(one, ["INVALID_OPTION"]);
        expect(one.body.error.details).toMatchObject({ field: "key" });
        const bulk = await server.api.raw(
          "POST",
          `/v1/queues/${queue}/jobs/bulk`,
          `{"jobs":[{"payload":1},{"payload":2,"key":${key}}]}`,
        );
        expectRefused(bulk, ["INVALID_OPTION"]);
      }
      expectRefused(await server.api.get(`/v1/queues/${queue}/keys/a%00b`), ["INVALID_OPTION", "INVALID_REQUEST"]);
      expectRefused(await server.api.delete(`/v1/queues/${queue}/keys/a%00b`), ["INVALID_OPTION", "INVALID_REQUEST"]);
      expectRefused(await server.api.get(`/v1/queues/${queue}/jobs/1%00`), ["INVALID_OPTION", "INVALID_REQUEST"]);
      expect(await snapshot(opened.store, queue)).toEqual(before);
    });

    it("refuses a runAt no store can hold with 400, and commits nothing", async () => {
      const queue = uniqueQueue();
      const added = (await server.api.post(`/v1/queues/${queue}/jobs`, { payload: 1, delay: "1h" })).body;
      const before = await snapshot(opened.store, queue);
      expectRefused(await server.api.raw("POST", `/v1/queues/${queue}/jobs`, '{"payload":1,"runAt":1e20}'), [
        "INVALID_OPTION",
      ]);
      expectRefused(await server.api.raw("POST", `/v1/queues/${queue}/jobs/${added.id}/reschedule`, '{"runAt":1e20}'), [
        "INVALID_OPTION",
      ]);
      expectRefused(await server.api.raw("POST", `/v1/queues/${queue}/dead/redrive`, '{"all":true,"runAt":1e20}'), [
        "INVALID_OPTION",
      ]);
      expect(await snapshot(opened.store, queue)).toEqual(before);
    });

    it("refuses lease tokens with NUL or unpaired surrogates with 400; the lease still holds", async () => {
      const queue = uniqueQueue();
      await server.api.post(`/v1/queues/${queue}/jobs`, { payload: 1 });
      const [job] = (await server.api.post(`/v1/queues/${queue}/claim`, {})).body.jobs;
      for (const token of ['"t\\u0000"', '"t\\ud800"']) {
        for (const [action, extra] of [
          ["complete", ""],
          ["fail", ',"error":"x"'],
          ["extend", ',"lease":"30s"'],
          ["release", ""],
        ]) {
          const answer = await server.api.raw(
            "POST",
            `/v1/queues/${queue}/jobs/${job.id}/${action}`,
            `{"leaseToken":${token}${extra}}`,
          );
          expectRefused(answer, ["INVALID_REQUEST", "INVALID_OPTION"]);
        }
      }
      const done = await server.api.post(`/v1/queues/${queue}/jobs/${job.id}/complete`, {
        leaseToken: job.leaseToken,
      });
      expect(done.body).toEqual({ completed: true });
    });

    it("records a failure message with NUL exactly; an unpaired surrogate becomes U+FFFD", async () => {
      const queue = uniqueQueue();
      await server.api.post(`/v1/queues/${queue}/jobs`, { payload: 1, attempts: 2, backoff: 0 });
      const messages: string[] = [];
      for (const [sent, kept] of [
        ['"gateway\\u0000down"', "gateway\u0000down"],
        ['"lone\\ud800"', "lone\ufffd"],
      ] as const) {
        const [job] = (await server.api.post(`/v1/queues/${queue}/claim`, {})).body.jobs;
        const failed = await server.api.raw(
          "POST",
          `/v1/queues/${queue}/jobs/${job.id}/fail`,
          `{"leaseToken":${JSON.stringify(job.leaseToken)},"error":${sent}}`,
        );
        expect(failed.status).toBe(200);
        messages.push(kept);
        expect(failed.body.job.errors.map((e: { message: string }) => e.message)).toEqual(messages);
      }
      const [dead] = (await server.api.get(`/v1/queues/${queue}/dead`)).body.jobs;
      expect(dead.errors.map((e: { message: string }) => e.message)).toEqual(messages);
    });

    it("answers 400 for a duration nested too deep to quote, in a job's backoff and a check's schedule", async () => {
      const queue = uniqueQueue();
      const before = await snapshot(opened.store, queue);
      // Under the server's nesting limit (512) the library describes the value; past it the
      // server refuses the body before parsing it into the library at all.
      for (const [depth, codes] of [
        [400, ["INVALID_DURATION", "INVALID_OPTION"]],
        [50_000, ["INVALID_REQUEST"]],
      ] as const) {
        const job = await server.api.raw(
          "POST",
          `/v1/queues/${queue}/jobs`,
          `{"payload":1,"backoff":{"type":"fixed","delay":${deepJson(depth)}}}`,
        );
        expectRefused(job, [...codes]);
        expect(job.body.error.message.length).toBeLessThan(400);
        expect(await snapshot(opened.store, queue)).toEqual(before);
        const check = await server.api.raw(
          "PUT",
          "/v1/checks/deep",
          `{"probeUrl":"http://127.0.0.1:9/p","callbackUrl":"http://127.0.0.1:9/c","schedule":[${deepJson(depth)}]}`,
        );
        expectRefused(check, [...codes]);
        expect(JSON.stringify(check.body).length).toBeLessThan(1000);
        expect((await server.api.get("/v1/checks/deep")).status).toBe(404);
      }
    });

    it("refuses check names that are empty of meaning (dots) and check keys with NUL", async () => {
      const definition = JSON.stringify({
        probeUrl: "http://127.0.0.1:9/p",
        callbackUrl: "http://127.0.0.1:9/c",
        schedule: ["1m"],
      });
      for (const name of [".", "..", "..."]) {
        // The route's schema applies the library's name rule (400 INVALID_REQUEST).
        expectRefused(await rawRequest(server, "PUT", `/v1/checks/${name}`, definition), ["INVALID_REQUEST"]);
      }
      expect((await server.api.put("/v1/checks/pay.check", JSON.parse(definition))).status).toBe(200);
      const before = await opened.store.counts("check.pay.check");
      for (const key of ['"k\\u0000"', '"k\\ud800"']) {
        const answer = await server.api.raw("POST", "/v1/checks/pay.check/start", `{"key":${key}}`);
        expectRefused(answer, ["INVALID_OPTION"]);
      }
      expectRefused(await server.api.get("/v1/checks/pay.check/k%00"), ["INVALID_OPTION", "INVALID_REQUEST"]);
      expect(await opened.store.counts("check.pay.check")).toEqual(before);
    });

    it("refuses a queue name made only of dots", async () => {
      for (const name of ["..", "..."]) {
        expectRefused(await rawRequest(server, "GET", `/v1/queues/${name}/counts`), ["INVALID_OPTION"]);
      }
    });
  });
}
