import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { DEFAULT_BACKOFF } from "../../packages/checkback/src/core/backoff.js";
import { LeaseLostError, ValidationError } from "../../packages/checkback/src/core/errors.js";
import { openStore } from "../../packages/checkback/src/stores/open-store.js";
import { PostgresStore } from "../../packages/checkback/src/stores/postgres/postgres-store.js";
import { SCHEMA_VERSION } from "../../packages/checkback/src/stores/postgres/schema.js";
import { WAKE_APPLICATION_NAME } from "../../packages/checkback/src/stores/postgres/wake.js";
import type { AddOutcome, NewJob } from "../../packages/checkback/src/stores/store.js";
import { DATABASE_URL, dropSchema, postgresReachable, randomSchema } from "../support/postgres-env.js";
import { sleep, waitFor } from "../support/wait.js";

/** What the PostgreSQL store does beyond the shared contract. */
const available = await postgresReachable();
const schema = randomSchema("cbpg");

const job = (queue: string, overrides: Partial<NewJob> = {}): NewJob => ({
  queue,
  key: null,
  payload: "{}",
  when: { delayMs: 0 },
  maxAttempts: 3,
  backoff: DEFAULT_BACKOFF,
  onDuplicate: "keep",
  ...overrides,
});

describe.skipIf(!available)("PostgreSQL store specifics", () => {
  let store: PostgresStore;
  let other: PostgresStore;
  let raw: pg.Pool;
  const schemas = [schema];
  beforeAll(() => {
    store = new PostgresStore({ connectionString: DATABASE_URL, schema });
    // A second instance with a pool of its own: another process, as far as the database can tell.
    other = new PostgresStore({ connectionString: DATABASE_URL, schema });
    raw = new pg.Pool({ connectionString: DATABASE_URL });
  });
  afterAll(async () => {
    await store?.close();
    await other?.close();
    await raw?.end();
    for (const name of schemas) await dropSchema(name);
  });

  async function serverNow(): Promise<number> {
    const { rows } = await raw.query("SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now");
    return Number(rows[0].now);
  }

  it("computes every instant on the server's clock, not the producer's", async () => {
    // A process whose clock is a day fast: nothing the store writes may follow it.
    // biome-ignore lint/complexity/useDateNow: Date.now is what is being replaced here
    const skewed = vi.spyOn(Date, "now").mockImplementation(() => new Date().getTime() + 86_400_000);
    try {
      const before = await serverNow();
      const [added] = await store.add([job("clock", { when: { delayMs: 5_000 } }), job("clock")]);
      const claimed = await store.claimDue("clock", { limit: 10, leaseMs: 30_000 });
      const after = await serverNow();
      expect(added!.job.runAt).toBeGreaterThanOrEqual(before + 5_000);
      expect(added!.job.runAt).toBeLessThanOrEqual(after + 5_000);
      expect(added!.job.createdAt).toBeGreaterThanOrEqual(before);
      expect(added!.job.createdAt).toBeLessThanOrEqual(after);
      expect(claimed.jobs).toHaveLength(1);
      expect(claimed.now).toBeGreaterThanOrEqual(before);
      expect(claimed.now).toBeLessThanOrEqual(after);
      expect(claimed.jobs[0]!.leaseExpiresAt).toBe(claimed.now + 30_000);
      const now = await store.now();
      expect(now).toBeGreaterThanOrEqual(before);
      expect(now).toBeLessThanOrEqual(await serverNow());
    } finally {
      skewed.mockRestore();
    }
  });

  it("never hands one job to two claimers, even from two pools at once", async () => {
    const queue = "race";
    const total = 600;
    await store.add(Array.from({ length: total }, (_, i) => job(queue, { payload: String(i) })));
    const drain = async (from: PostgresStore) => {
      const ids: string[] = [];
      for (;;) {
        const { jobs } = await from.claimDue(queue, { limit: 7, leaseMs: 60_000 });
        if (jobs.length === 0) {
          // SKIP LOCKED may pass over rows the other claimer holds at that instant: look again.
          const { scheduled } = await from.counts(queue);
          if (scheduled === 0) return ids;
          continue;
        }
        ids.push(...jobs.map((j) => j.id));
      }
    };
    const results = await Promise.all([drain(store), drain(other), drain(store), drain(other)]);
    const all = results.flat();
    expect(all).toHaveLength(total);
    expect(new Set(all).size).toBe(total);
    // Both pools took part.
    expect(results[0]!.length + results[2]!.length).toBeGreaterThan(0);
    expect(results[1]!.length + results[3]!.length).toBeGreaterThan(0);
  });

  it("completions of one turn share a statement, yet each gets its own outcome", async () => {
    const queue = "group-complete";
    await store.add(Array.from({ length: 20 }, () => job(queue)));
    const { jobs } = await store.claimDue(queue, { limit: 20, leaseMs: 60_000 });
    expect(jobs).toHaveLength(20);
    // All in the same turn: good tokens, stale tokens, an unknown id, and one job completed twice.
    const outcomes = await Promise.allSettled([
      ...jobs.slice(0, 10).map((j) => store.complete(queue, j.id, j.leaseToken!, { result: `"${j.id}"` })),
      ...jobs.slice(10).map((j) => store.complete(queue, j.id, "stale", { result: null })),
      store.complete(queue, "999999999", "nope", { result: null }),
      store.complete(queue, jobs[0]!.id, jobs[0]!.leaseToken!, { result: '"again"' }),
    ]);
    expect(outcomes.slice(0, 10).every((o) => o.status === "fulfilled")).toBe(true);
    for (const o of outcomes.slice(10)) {
      expect(o.status).toBe("rejected");
      expect((o as PromiseRejectedResult).reason).toBeInstanceOf(LeaseLostError);
    }
    expect(await store.counts(queue)).toMatchObject({ completed: 10, active: 10 });
    expect((await store.get(queue, jobs[0]!.id))!.result).toBe(`"${jobs[0]!.id}"`);
  });

  it("jobs sent dead by an expired lease do not use up a claim's limit", async () => {
    const queue = "expired-limit";
    await store.add([job(queue, { maxAttempts: 1 }), job(queue, { maxAttempts: 1 })]);
    const first = await store.claimDue(queue, { limit: 2, leaseMs: 50 });
    expect(first.jobs).toHaveLength(2);
    await sleep(150); // the 50 ms leases run out
    await store.add([job(queue, { payload: '"a"' }), job(queue, { payload: '"b"' })]);
    // The two expired leases come first in due order and go dead; the claim goes on for two more.
    const second = await store.claimDue(queue, { limit: 2, leaseMs: 60_000 });
    expect(second.jobs.map((j) => j.payload)).toEqual(['"a"', '"b"']);
    expect(await store.counts(queue)).toMatchObject({ dead: 2, active: 2 });
  });

  it("adds of one turn share a statement, yet each keeps its own outcome and order", async () => {
    const queue = "group-add";
    const calls = await Promise.allSettled([
      store.add([job(queue, { payload: "1" })]),
      store.add([job(queue, { key: "k", payload: "2" })]),
      store.add([job(queue, { key: "k", payload: "3" })]),
      store.add([job(queue, { key: "k", payload: "4", onDuplicate: "replace" })]),
      // PostgreSQL refuses a NUL character in text: this call fails, alone.
      store.add([job(queue, { payload: "a NUL \u0000 inside" })]),
      store.add([job(queue, { payload: "5" }), job(queue, { payload: "6" })]),
    ]);
    const outcomes = calls.map((call) => (call.status === "fulfilled" ? call.value.map((a) => a.outcome) : "failed"));
    expect(outcomes).toEqual([["created"], ["created"], ["existing"], ["replaced"], "failed", ["created", "created"]]);
    const value = (i: number) => (calls[i] as PromiseFulfilledResult<AddOutcome[]>).value;
    expect(value(2)[0]!.job.id).toBe(value(1)[0]!.job.id);
    expect(value(3)[0]!.job.payload).toBe("4");
    // Call order is FIFO order.
    const ids = [value(0)[0]!, value(1)[0]!, value(5)[0]!, value(5)[1]!].map((a) => BigInt(a.job.id));
    expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);
    const { jobs } = await store.claimDue(queue, { limit: 10, leaseMs: 60_000 });
    expect(jobs.map((j) => j.payload)).toEqual(["1", "4", "5", "6"]);
  });

  it("wakes a subscriber of another store instance through LISTEN/NOTIFY", async () => {
    const seen: number[] = [];
    const unsubscribe = other.subscribe("listen", (runAt) => seen.push(runAt));
    try {
      await other.listening();
      const [added] = await store.add([job("listen", { when: { delayMs: 10_000 } })]);
      await waitFor(() => seen.length > 0, 5_000);
      expect(seen).toEqual([added!.job.runAt]);
      // Claims and completions leave nothing newly scheduled, so they notify nothing.
      const [retried] = await store.add([job("listen")]);
      await waitFor(() => seen.length > 1, 5_000);
      const { jobs } = await store.claimDue("listen", { limit: 1, leaseMs: 30_000 });
      expect(jobs[0]!.id).toBe(retried!.job.id);
      await store.complete("listen", jobs[0]!.id, jobs[0]!.leaseToken!, { result: null });
      await store.add([job("listen-elsewhere")]);
      // A fixed wait, for what must NOT happen: a wake-up for another queue.
      await sleep(200);
      expect(seen).toHaveLength(2);
    } finally {
      unsubscribe();
    }
  });

  it("listens again after its connection is cut, and wakes subscribers to look", async () => {
    const seen: number[] = [];
    const unsubscribe = other.subscribe("relisten", (runAt) => seen.push(runAt));
    try {
      await other.listening();
      const { rowCount } = await raw.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE application_name = $1 AND query = $2`,
        [WAKE_APPLICATION_NAME, `LISTEN "${schema}_due"`],
      );
      expect(rowCount).toBeGreaterThan(0);
      // Back: subscribers are told to look (a notification may have been missed meanwhile).
      await waitFor(() => seen.includes(0), 10_000);
      const [added] = await store.add([job("relisten", { when: { delayMs: 60_000 } })]);
      await waitFor(() => seen.includes(added!.job.runAt), 5_000);
    } finally {
      unsubscribe();
    }
  });

  describe("transactional enqueue", () => {
    it("a job added in a rolled-back transaction never exists", async () => {
      const cb = new Checkback({ store });
      const client = await raw.connect();
      try {
        await client.query("BEGIN");
        const added = await cb.queue("outbox-rollback").withStore(store.inTransaction(client)).add({ order: 1 });
        expect(added.outcome).toBe("created");
        // Visible inside the transaction, to no one else.
        expect((await store.inTransaction(client).get("outbox-rollback", added.id))?.state).toBe("scheduled");
        expect(await store.get("outbox-rollback", added.id)).toBeNull();
        await client.query("ROLLBACK");
      } finally {
        client.release();
      }
      expect(await store.counts("outbox-rollback")).toMatchObject({ scheduled: 0 });
    });

    it("a job added with the business write exists once it commits, and wakes a worker then", async () => {
      await raw.query(`CREATE TABLE IF NOT EXISTS "${schema}".orders (id integer PRIMARY KEY, status text NOT NULL)`);
      const producer = new Checkback({ store });
      // The worker runs on another store instance: it is woken through LISTEN/NOTIFY.
      const consumer = new Checkback({ store: other });
      const ran: { order: number; lateness: number }[] = [];
      const worker = consumer.worker<{ order: number }>("outbox-commit", async (active) => {
        ran.push({ order: active.payload.order, lateness: active.startedAt - active.runAt });
      });
      const woken: number[] = [];
      const unsubscribe = other.subscribe("outbox-commit", (runAt) => woken.push(runAt));
      try {
        await other.listening();
        await sleep(100); // the worker's first claim found nothing; it sleeps now
        const client = await raw.connect();
        let jobId: string;
        try {
          await client.query("BEGIN");
          await client.query(`INSERT INTO "${schema}".orders (id, status) VALUES (42, 'awaiting payment')`);
          const queue = producer.queue<{ order: number }>("outbox-commit").withStore(store.inTransaction(client));
          jobId = (await queue.add({ order: 42 }, { delay: "100ms", key: "order-42" })).id;
          await sleep(300);
          // Not committed: not visible, nobody woken, nothing run.
          expect(woken).toEqual([]);
          expect(ran).toEqual([]);
          expect(await store.get("outbox-commit", jobId)).toBeNull();
          await client.query("COMMIT");
        } finally {
          client.release();
        }
        await waitFor(() => ran.length > 0, 4_000);
        expect(ran[0]!.order).toBe(42);
        // Woken by the commit's notification, well before the worker's idle re-check (5 s).
        expect(woken).toHaveLength(1);
        expect(ran[0]!.lateness).toBeLessThan(4_000);
        await waitFor(async () => (await store.get("outbox-commit", jobId))?.state === "completed", 5_000);
      } finally {
        unsubscribe();
        await worker.close();
      }
    });

    it("runs every operation on the caller's client, with no transaction of its own", async () => {
      const client = await raw.connect();
      try {
        await client.query("BEGIN");
        const view = store.inTransaction(client);
        // A repeated key in one batch is the path that uses a transaction on the pool: here it
        // must stay inside the caller's.
        const added = await view.add([job("outbox-ops", { key: "k" }), job("outbox-ops", { key: "k" })]);
        expect(added.map((a) => a.outcome)).toEqual(["created", "existing"]);
        const { jobs } = await view.claimDue("outbox-ops", { limit: 5, leaseMs: 30_000 });
        await view.complete("outbox-ops", jobs[0]!.id, jobs[0]!.leaseToken!, {
          result: null,
          enqueue: [job("outbox-ops", { key: "next" })],
        });
        expect(await view.counts("outbox-ops")).toMatchObject({ completed: 1, scheduled: 1 });
        await client.query("ROLLBACK");
      } finally {
        client.release();
      }
      expect(await store.counts("outbox-ops")).toMatchObject({ completed: 0, scheduled: 0 });
    });
  });

  describe("migrations", () => {
    it("are safe when several stores start at once on an empty database, and idempotent after", async () => {
      const fresh = randomSchema("cbmig");
      schemas.push(fresh);
      const starting = Array.from(
        { length: 4 },
        () => new PostgresStore({ connectionString: DATABASE_URL, schema: fresh }),
      );
      try {
        const nows = await Promise.all(starting.map((s) => s.now()));
        expect(nows.every((n) => n > 0)).toBe(true);
        await starting[0]!.add([job("mig")]);
        const again = new PostgresStore({ connectionString: DATABASE_URL, schema: fresh });
        expect((await again.counts("mig")).scheduled).toBe(1);
        await again.close();
        const { rows } = await raw.query(`SELECT version FROM "${fresh}".migrations ORDER BY version`);
        expect(rows.map((r) => r.version)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
      } finally {
        await Promise.all(starting.map((s) => s.close()));
      }
    });

    it("refuses a schema written by a newer checkback", async () => {
      const newer = randomSchema("cbnew");
      schemas.push(newer);
      await raw.query(`CREATE SCHEMA "${newer}"`);
      await raw.query(`CREATE TABLE "${newer}".migrations (version integer PRIMARY KEY, applied_at timestamptz)`);
      await raw.query(`INSERT INTO "${newer}".migrations VALUES ($1, now())`, [SCHEMA_VERSION + 1]);
      const s = new PostgresStore({ connectionString: DATABASE_URL, schema: newer });
      try {
        await expect(s.now()).rejects.toThrow(/newer than this checkback supports/);
      } finally {
        await s.close();
      }
    });
  });

  describe("connection settings", () => {
    it("refuses a malformed connection string or options at once", () => {
      expect(() => new PostgresStore({ connectionString: "localhost:5432" })).toThrow(ValidationError);
      expect(() => new PostgresStore({ connectionString: "postgres://[bad" })).toThrow(ValidationError);
      expect(() => new PostgresStore({})).toThrow(/connectionString or a pool/);
      expect(() => new PostgresStore({ connectionString: DATABASE_URL, schema: "Bad-Name" })).toThrow(ValidationError);
      expect(() => new PostgresStore({ connectionString: DATABASE_URL, poolSize: 3 } as never)).toThrow(
        /unknown postgres store option/,
      );
    });

    it("names the server it could not reach, without the password", async () => {
      const s = new PostgresStore({ connectionString: "postgres://someone:secret@127.0.0.1:1/nowhere" });
      try {
        const failure = s.now();
        await expect(failure).rejects.toThrow(
          /PostgreSQL at postgres:\/\/someone:\*\*\*@127\.0\.0\.1:1\/nowhere is unavailable/,
        );
        await expect(s.now()).rejects.not.toThrow(/secret/);
      } finally {
        await s.close();
      }
    });

    it("opens from postgres:// and postgresql:// URLs, with an optional schema", async () => {
      const url = new URL(DATABASE_URL);
      url.searchParams.set("schema", schema);
      const opened = openStore(url.toString().replace(/^postgres:/, "postgresql:"));
      try {
        expect(opened).toBeInstanceOf(PostgresStore);
        expect((opened as PostgresStore).schema).toBe(schema);
        const [added] = await store.add([job("by-url")]);
        expect((await opened.get("by-url", added!.job.id))?.id).toBe(added!.job.id);
      } finally {
        await opened.close();
      }
      const plain = openStore(DATABASE_URL);
      expect((plain as PostgresStore).schema).toBe("checkback");
      await plain.close();
    });

    it("sends completions called just before close", async () => {
      const s = new PostgresStore({ connectionString: DATABASE_URL, schema });
      await s.add([job("close-flush"), job("close-flush")]);
      const { jobs } = await s.claimDue("close-flush", { limit: 2, leaseMs: 60_000 });
      const completing = jobs.map((j) => s.complete("close-flush", j.id, j.leaseToken!, { result: null }));
      await s.close();
      await Promise.all(completing);
      expect((await store.counts("close-flush")).completed).toBe(2);
    });

    it("works on a pool of the caller's, and leaves it open when closed", async () => {
      const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
      const s = new PostgresStore({ pool, schema });
      await s.add([job("own-pool")]);
      expect((await s.counts("own-pool")).scheduled).toBe(1);
      await s.close();
      expect((await pool.query("SELECT 1 AS one")).rows[0].one).toBe(1);
      await pool.end();
    });
  });
});
