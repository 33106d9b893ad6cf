import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_BACKOFF } from "../../packages/checkback/src/core/backoff.js";
import { PostgresStore } from "../../packages/checkback/src/stores/postgres/postgres-store.js";
import type { NewJob } from "../../packages/checkback/src/stores/store.js";
import { PostgresServerProcess, postgresServerAvailable } from "../support/postgres-server-process.js";

/**
 * PostgreSQL out of reach: clear errors naming the server (never its password) and the cause,
 * within a few seconds, and calls that work again once it is back. A private server on a port of
 * its own (5450–5459) is stopped and restarted; the shared one is never touched.
 */
const available = postgresServerAvailable();
if (!available) {
  if (process.env.CI === "true") throw new Error("PostgreSQL binaries are needed for the connection tests");
  console.warn("\n!!! SKIPPING the PostgreSQL connection tests: no PostgreSQL binaries (set PG_BIN)\n");
}

const job = (queue: string): NewJob => ({
  queue,
  key: null,
  payload: "{}",
  when: { delayMs: 0 },
  maxAttempts: 1,
  backoff: DEFAULT_BACKOFF,
  onDuplicate: "keep",
});

async function refusal(call: Promise<unknown>): Promise<{ error: Error & { code?: string }; ms: number }> {
  const started = Date.now();
  const error = await call.then(
    () => new Error("the call succeeded"),
    (e: Error) => e,
  );
  return { error, ms: Date.now() - started };
}

describe.skipIf(!available)("PostgreSQL store connection errors", () => {
  const server = new PostgresServerProcess(5451);
  let silent: Server;
  const sockets: Socket[] = [];
  const stores: PostgresStore[] = [];
  const open = (connectionString: string) => {
    const store = new PostgresStore({ connectionString });
    stores.push(store);
    return store;
  };

  beforeAll(async () => {
    silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    await server.start();
  }, 60_000);

  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close().catch(() => {})));
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
    await server.destroy();
  }, 30_000);

  it("names the server without its password and the cause when nothing listens", async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address() as { port: number };
    await new Promise((resolve) => probe.close(resolve));
    const { error, ms } = await refusal(open(`postgres://app:s3cret@127.0.0.1:${port}/db`).now());
    expect(error.code).toBe("STORE_UNAVAILABLE");
    expect(error.message).toContain(`postgres://app:***@127.0.0.1:${port}/db`);
    expect(error.message).toContain("ECONNREFUSED");
    expect(error.message).not.toContain("s3cret");
    expect(ms).toBeLessThan(2_000);
  });

  it("gives up on a server that never answers within a few seconds", async () => {
    const { port } = silent.address() as { port: number };
    const { error, ms } = await refusal(open(`postgres://app@127.0.0.1:${port}/db`).now());
    expect(error.code).toBe("STORE_UNAVAILABLE");
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(ms).toBeLessThan(8_000);
  }, 15_000);

  it("names a database that does not exist", async () => {
    const { error } = await refusal(open(`postgres://postgres@127.0.0.1:${server.port}/nope`).now());
    expect(error.code).toBe("STORE_UNAVAILABLE");
    expect(error.message).toMatch(/database "nope" does not exist/);
  });

  it("fails fast with STORE_UNAVAILABLE while the server is down, and works again once it is back", async () => {
    const store = open(server.url);
    const queue = "outage";
    await store.add([job(queue)]);
    const [held] = (await store.claimDue(queue, { limit: 1, leaseMs: 60_000 })).jobs;
    await server.stop();
    for (const call of [
      () => store.add([job(queue)]),
      () => store.claimDue(queue, { limit: 1, leaseMs: 1000 }),
      () => store.complete(queue, held!.id, held!.leaseToken!, { result: null }),
      () => store.counts(queue),
      () => store.now(),
    ]) {
      const { error, ms } = await refusal(call());
      expect(error.code, error.message).toBe("STORE_UNAVAILABLE");
      expect(error.message).toContain(`127.0.0.1:${server.port}`);
      expect(ms).toBeLessThan(3_000);
    }
    await server.start();
    const deadline = Date.now() + 10_000;
    for (;;) {
      const outcome = await store.add([job(queue)]).then(
        (added) => added,
        (e: Error) => e,
      );
      if (!(outcome instanceof Error)) break;
      if (Date.now() > deadline) throw outcome;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect((await store.counts(queue)).scheduled).toBe(1);
    await store.complete(queue, held!.id, held!.leaseToken!, { result: null });
  }, 60_000);
});
