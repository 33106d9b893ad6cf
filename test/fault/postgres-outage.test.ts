import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { PostgresServerProcess, postgresServerAvailable } from "../support/postgres-server-process.js";
import { sleep, waitFor } from "../support/wait.js";
import { addAcknowledged, FaultWorkers } from "./fault-harness.js";

/**
 * PostgreSQL goes away under running workers: a private server is stopped and started again,
 * and later every other backend is terminated. Workers with and without an `error` listener
 * must live through it and run every acknowledged job (a fast shutdown loses no committed row).
 */
const available = postgresServerAvailable();
if (!available) {
  if (process.env.CI === "true")
    throw new Error("PostgreSQL server binaries are needed for the PostgreSQL fault tests");
  console.warn("\n!!! SKIPPING the PostgreSQL fault tests: no PostgreSQL binaries (install them or set PG_BIN)\n");
}

const JOBS = 60;

describe.skipIf(!available)("fault: PostgreSQL outage under running workers", () => {
  const server = available ? new PostgresServerProcess(5441) : undefined;
  const workers = new FaultWorkers();
  let cb: Checkback;
  let url: string;

  beforeAll(async () => {
    await server!.start();
    url = `${server!.url}?schema=fault`;
    cb = new Checkback({ store: url });
  }, 60_000);

  afterAll(async () => {
    await workers.stopAll();
    await cb?.close().catch(() => {});
    await server?.destroy();
  });

  async function allCompleted(queue: string, ids: string[]): Promise<boolean> {
    for (const id of ids) if ((await cb.queue(queue).get(id))?.state !== "completed") return false;
    return true;
  }

  it("workers survive PostgreSQL being stopped and started, and complete every acknowledged job", async () => {
    // The schema first, so the workers do not race each other to create it.
    await cb.queue("heard").counts();
    await workers.start(url, "heard", "listener");
    await workers.start(url, "unheard", "silent");
    const [heard, unheard] = await Promise.all([
      addAcknowledged(cb, "heard", JOBS, 6_000),
      addAcknowledged(cb, "unheard", JOBS, 6_000),
    ]);
    await waitFor(() => workers.runs("heard").length >= 5 && workers.runs("unheard").length >= 5, 10_000);

    await server!.stop();
    // A fixed wait, for what must NOT happen: a worker process giving up during the outage.
    await sleep(4_000);
    expect(workers.exited()).toEqual([]);
    await server!.start();

    await waitFor(async () => (await allCompleted("heard", heard)) && (await allCompleted("unheard", unheard)), 30_000);
    expect(new Set(workers.runs("heard"))).toEqual(new Set(heard));
    expect(new Set(workers.runs("unheard"))).toEqual(new Set(unheard));
    // The outage was felt: the listening worker heard its store fail.
    expect(workers.errors("heard").length).toBeGreaterThan(0);
    expect(workers.exited()).toEqual([]);
  }, 60_000);

  it("workers survive every backend being terminated", async () => {
    const [heard, unheard] = await Promise.all([
      addAcknowledged(cb, "heard", 20, 1_000),
      addAcknowledged(cb, "unheard", 20, 1_000),
    ]);
    const admin = new pg.Client({ connectionString: server!.url });
    await admin.connect();
    try {
      for (let round = 0; round < 3; round++) {
        await admin.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = current_database()",
        );
        await sleep(300);
      }
    } finally {
      await admin.end();
    }
    // A job added after the terminations must still reach the workers.
    const late = await Promise.all([cb.queue("heard").add({ late: true }), cb.queue("unheard").add({ late: true })]);
    await waitFor(
      async () =>
        (await allCompleted("heard", [...heard, late[0].id])) &&
        (await allCompleted("unheard", [...unheard, late[1].id])),
      20_000,
    );
    expect(workers.exited()).toEqual([]);
  }, 40_000);
});
