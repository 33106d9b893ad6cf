import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startReceiver, startTestServer, until } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "checkback-server-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("server on an embedded SQLite file", () => {
  it("jobs, push targets and dead letters survive a restart; the restarted server delivers", async () => {
    const store = `sqlite:${join(dir, "server.db")}`;
    const delivered: string[] = [];
    const receiver = await startReceiver((_request, body, response) => {
      delivered.push(JSON.parse(body).id);
      response.writeHead(200).end();
    });
    try {
      const first = await startTestServer({ store });
      const put = await first.api.put("/v1/queues/orders/push", { url: receiver.url, timeout: "1s" });
      expect(put.status).toBe(200);
      const later = (await first.api.post("/v1/queues/orders/jobs", { payload: { order: 1 }, delay: "700ms" })).body;
      const pulled = (await first.api.post("/v1/queues/manual/jobs", { payload: "x", attempts: 1 })).body;
      const [claimed] = (await first.api.post("/v1/queues/manual/claim", {})).body.jobs;
      await first.api.post(`/v1/queues/manual/jobs/${pulled.id}/fail`, { leaseToken: claimed.leaseToken, error: "no" });
      await first.close();
      expect(delivered).toEqual([]);

      const second = await startTestServer({ store });
      try {
        expect((await second.api.get("/readyz")).body).toEqual({ status: "ready", store: "sqlite" });
        expect((await second.api.get("/v1/queues/orders/push")).body).toMatchObject({ url: receiver.url });
        await until(() => delivered.length === 1, "delivery after the restart");
        expect(delivered).toEqual([later.id]);
        await until(
          async () => (await second.api.get(`/v1/queues/orders/jobs/${later.id}`)).body.state === "completed",
          "completion",
        );
        const dead = (await second.api.get("/v1/queues/manual/dead")).body;
        expect(dead.jobs).toMatchObject([{ id: pulled.id, errors: [{ message: "no" }] }]);
        const names = (await second.api.get("/v1/queues")).body.queues.map((q: { name: string }) => q.name);
        expect(names).toEqual(["manual", "orders"]);
      } finally {
        await second.close();
      }
    } finally {
      await receiver.close();
    }
  });
});
