import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { RedisServerProcess, redisServerAvailable } from "../support/redis-server-process.js";
import { sleep, waitFor } from "../support/wait.js";
import { addAcknowledged, FaultWorkers } from "./fault-harness.js";

/**
 * Redis goes away under running workers: killed (SIGKILL) and restarted on the same port, and
 * later every client connection killed. Workers with and without an `error` listener must live
 * through it and run every job. The server writes its AOF with fsync on every write, so every
 * acknowledged add survives the kill: "every acknowledged job completes" is a fair demand.
 */
const available = await redisServerAvailable();
if (!available) {
  if (process.env.CI === "true") throw new Error("redis-server is needed for the Redis fault tests");
  console.warn("\n!!! SKIPPING the Redis fault tests: no redis-server binary (set REDIS_SERVER)\n");
}

const JOBS = 60;

describe.skipIf(!available)("fault: Redis outage under running workers", () => {
  const server = new RedisServerProcess(6401, ["--appendonly", "yes", "--appendfsync", "always"]);
  const workers = new FaultWorkers();
  let cb: Checkback;

  beforeAll(async () => {
    await server.start();
    cb = new Checkback({ store: server.url });
  });

  afterAll(async () => {
    await workers.stopAll();
    await cb?.close().catch(() => {});
    await server.stop();
  });

  it("workers survive Redis being killed and restarted, and complete every acknowledged job", async () => {
    await workers.start(server.url, "heard", "listener");
    await workers.start(server.url, "unheard", "silent");
    // Due over 6 s: some run before the outage, many come due during it, the rest after.
    const [heard, unheard] = await Promise.all([
      addAcknowledged(cb, "heard", JOBS, 6_000),
      addAcknowledged(cb, "unheard", JOBS, 6_000),
    ]);
    await waitFor(() => workers.runs("heard").length >= 5 && workers.runs("unheard").length >= 5, 10_000);

    await server.kill();
    // A fixed wait, for what must NOT happen: a worker process giving up during the outage.
    await sleep(4_000);
    expect(workers.exited()).toEqual([]);
    await server.start();

    // The test's own reads may meet Redis still starting (STORE_UNAVAILABLE): they try again.
    const completed = (queue: string) =>
      cb
        .queue(queue)
        .counts()
        .then((counts) => counts.completed === JOBS)
        .catch(() => false);
    await waitFor(() => completed("heard"), 30_000);
    await waitFor(() => completed("unheard"), 30_000);
    for (const [queue, ids] of [
      ["heard", heard],
      ["unheard", unheard],
    ] as const) {
      for (const id of ids) expect((await cb.queue(queue).get(id))?.state).toBe("completed");
      expect(new Set(workers.runs(queue))).toEqual(new Set(ids));
    }
    // The outage was felt: the listening worker heard its store fail.
    expect(workers.errors("heard").length).toBeGreaterThan(0);
    expect(workers.exited()).toEqual([]);
  }, 60_000);

  it("workers survive every client connection being killed", async () => {
    const [heard, unheard] = await Promise.all([
      addAcknowledged(cb, "heard", 20, 1_000),
      addAcknowledged(cb, "unheard", 20, 1_000),
    ]);
    const admin = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    await admin.connect();
    try {
      for (let round = 0; round < 3; round++) {
        await admin.call("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes");
        await admin.call("CLIENT", "KILL", "TYPE", "pubsub");
        await sleep(300);
      }
    } finally {
      admin.disconnect();
    }
    // A job added after the kills must still wake the workers (their subscriptions came back).
    const late = await Promise.all([cb.queue("heard").add({ late: true }), cb.queue("unheard").add({ late: true })]);
    const all = { heard: [...heard, late[0].id], unheard: [...unheard, late[1].id] };
    for (const [queue, ids] of Object.entries(all)) {
      await waitFor(async () => {
        for (const id of ids) if ((await cb.queue(queue).get(id))?.state !== "completed") return false;
        return true;
      }, 20_000);
    }
    expect(workers.exited()).toEqual([]);
  }, 40_000);
});
