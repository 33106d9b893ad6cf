import { afterEach, describe, expect, it } from "vitest";
import { MemoryStore } from "../../packages/checkback/src/stores/memory/memory-store.js";
import { resolveServerConfig } from "../../packages/server/src/http/config.js";
import { type RunningServer, startServer } from "../../packages/server/src/http/start.js";
import { call } from "./server-harness.js";

/**
 * The server's guard around its store: a call that hangs is answered 503 STORE_UNAVAILABLE at
 * the deadline; a connection failure is 503; any other error stays a 500 (a bug is not an outage).
 */
describe("server store guard", () => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function serverWith(patch: (store: MemoryStore) => void): Promise<RunningServer> {
    const store = new MemoryStore();
    server = await startServer(resolveServerConfig({ port: 0, logLevel: "silent" }), { store, storeDeadlineMs: 300 });
    patch(store);
    return server;
  }

  const addJob = (url: string) => call(url, "POST", "/v1/queues/orders/jobs", { payload: { n: 1 }, delay: "1m" });

  it("answers 503 at the deadline when the store hangs, and /readyz says so within its bound", async () => {
    const { url } = await serverWith((store) => {
      store.add = () => new Promise(() => {});
      store.getByKey = () => new Promise(() => {});
    });
    const answer = await addJob(url);
    expect(answer.status).toBe(503);
    expect(answer.body.error?.code).toBe("STORE_UNAVAILABLE");
    expect(answer.ms).toBeLessThan(2_000);
    const ready = await call(url, "GET", "/readyz");
    expect(ready.status).toBe(503);
    expect(ready.ms).toBeLessThan(2_500);
    expect((await call(url, "GET", "/healthz")).status).toBe(200);
  });

  it("answers 503 for a connection failure and 500 for anything else", async () => {
    let failure: Error = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6379"), { code: "ECONNREFUSED" });
    const { url } = await serverWith((store) => {
      store.add = async () => {
        throw failure;
      };
    });
    const outage = await addJob(url);
    expect(outage.status).toBe(503);
    expect(outage.body.error?.code).toBe("STORE_UNAVAILABLE");
    failure = new TypeError("Cannot read properties of undefined (reading 'id')");
    const bug = await addJob(url);
    expect(bug.status).toBe(500);
    expect(bug.body.error?.code).toBe("INTERNAL");
  });

  it("is not ready while writes fail for want of a store, and ready again once they pass", async () => {
    let refuse = true;
    const { url } = await serverWith((store) => {
      const add = store.add.bind(store);
      store.add = async (jobs) => {
        if (refuse) throw Object.assign(new Error("attempt to write a readonly database"), { code: "SQLITE_READONLY" });
        return add(jobs);
      };
    });
    expect((await call(url, "GET", "/readyz")).status).toBe(200);
    expect((await addJob(url)).status).toBe(503);
    const ready = await call(url, "GET", "/readyz");
    expect(ready.status).toBe(503);
    expect(ready.body.error?.message).toContain("readonly");
    refuse = false;
    expect((await call(url, "GET", "/readyz")).status).toBe(200);
    expect((await addJob(url)).status).toBe(201);
  });

  it("shuts down within its bounds while a store call hangs", async () => {
    const running = await serverWith(() => {});
    running.checkback.store.close = () => new Promise(() => {});
    const started = Date.now();
    await running.close();
    expect(Date.now() - started).toBeLessThan(4_000);
    server = undefined;
  });
});
