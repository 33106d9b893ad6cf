import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { CHECK_KEY_PREFIX, CHECK_QUEUE_PREFIX, checkQueueName } from "../../packages/checkback/src/checks/jobs.js";
import { JOB_STATES } from "../../packages/checkback/src/core/job.js";
import { MemoryStore } from "../../packages/checkback/src/stores/memory/memory-store.js";
import { openPostgresStore } from "../../packages/checkback/src/stores/postgres/url.js";
import { RedisStore } from "../../packages/checkback/src/stores/redis/redis-store.js";
import { SqliteStore } from "../../packages/checkback/src/stores/sqlite/sqlite-store.js";
import type { Store } from "../../packages/checkback/src/stores/store.js";
import { resolveServerConfig } from "../../packages/server/src/http/config.js";
import { isReservedQueue } from "../../packages/server/src/http/reserved.js";
import { type RunningServer, startServer } from "../../packages/server/src/http/start.js";
import { DATABASE_URL, dropSchema, postgresReachable, randomSchema } from "../support/postgres-env.js";
import { REDIS_URL, reachable } from "../support/redis-env.js";
import {
  type Category,
  encodeSegment,
  type GeneratedRequest,
  operationsOf,
  type PoolRef,
  requestFor,
} from "./fuzz/requests.js";

/**
 * HTTP fuzz: requests generated from the server's own /openapi.json, for every route, against
 * every store. Whatever arrives, the server never answers 5xx, every error is
 * { error: { code, message, details? } } with a code docs/server.md documents, and afterwards
 * the store holds exactly the jobs of the accepted requests.
 *
 * CHECKBACK_FUZZ_RUNS sets the requests per store (at least 2,000 under CI); CHECKBACK_FUZZ_SEED
 * replays a run (the seed is printed on failure); CHECKBACK_FUZZ_ALL=1 also sends the pending
 * categories below (or CHECKBACK_FUZZ_ALL=nul,huge-instant: those).
 */

type StoreKind = "memory" | "sqlite" | "redis" | "postgres";

/**
 * Hostile input the library does not handle yet (its input validation is being fixed
 * separately). Their generators stay; requests carrying one of these categories are not sent to
 * the listed stores until the fix lands. Empty this list once it has, and the fuzz covers them.
 */
const PENDING_LIBRARY_FIXES: Partial<Record<Category, StoreKind[]>> = {
  // Empty: every category is sent to every store. A category whose bug is known but not yet
  // fixed may be held back here, by store, with the reason; CHECKBACK_FUZZ_ALL=1 sends it anyway.
};

const RUNS = Number(process.env.CHECKBACK_FUZZ_RUNS ?? (process.env.CI === "true" ? 2_000 : 400));
if (process.env.CI === "true" && RUNS < 2_000)
  throw new Error("CI runs the fuzz with at least 2,000 requests per store");
// CI runs one fixed seed, so a red run is the code's doing, not the draw's; elsewhere each run
// draws its own, and a failure prints the seed to replay it with.
const SEED = process.env.CHECKBACK_FUZZ_SEED
  ? Number(process.env.CHECKBACK_FUZZ_SEED)
  : process.env.CI === "true"
    ? 20261201
    : Date.now() ^ (Math.random() * 2 ** 31);
/** CHECKBACK_FUZZ_ALL=1 sends every pending category; CHECKBACK_FUZZ_ALL=nul,deep-duration only those. */
const SEND_PENDING = process.env.CHECKBACK_FUZZ_ALL ?? "";

function sent(category: string): boolean {
  return SEND_PENDING === "1" || SEND_PENDING.split(",").includes(category);
}

/** The codes docs/server.md lists under "Errors": the only ones a client may see. */
function documentedCodes(): Set<string> {
  const text = readFileSync(new URL("../../docs/server.md", import.meta.url), "utf8");
  const section = text.slice(text.indexOf("## Errors"), text.indexOf("## Auth"));
  const codes = new Set<string>();
  for (const line of section.split("\n").filter((l) => /^\|\s*\d{3}\s*\|/.test(l))) {
    for (const match of line.split("|")[2]!.matchAll(/`([A-Z_]+)`/g)) codes.add(match[1]!);
  }
  return codes;
}
const DOCUMENTED = documentedCodes();

/** The latest-known instant a Date can hold; an accepted job due later is a bug. */
const MAX_INSTANT = 8.64e15;

interface Answer {
  status: number;
  text: string;
}

/** What the fuzz learned while it ran: handed-out ids, keys and lease tokens, accepted jobs, purges. */
class Tracker {
  readonly pools = { id: [] as string[], key: [] as string[], leaseToken: [] as string[] };
  readonly accepted = new Set<string>();
  /** "METHOD route status" → count: what the run reached (printed with CHECKBACK_FUZZ_STATS=1). */
  readonly statuses = new Map<string, number>();
  purged = 0;

  /** Claimed jobs with their lease: a request naming lease n settles that job, so fails and completes land. */
  readonly leases: { id: string; leaseToken: string }[] = [];

  pick(ref: PoolRef): string {
    if (ref.pool === "leaseToken") return this.leases[ref.index % this.leases.length]?.leaseToken ?? "no-lease";
    const pool = this.pools[ref.pool];
    return pool.length === 0 ? "1" : pool[ref.index % pool.length]!;
  }

  /** The job whose lease the body names, if it names one by reference. */
  leasedJob(body: string | undefined): string | undefined {
    const index = /"@leaseToken:(\d+)"/.exec(body ?? "")?.[1];
    return index === undefined ? undefined : this.leases[Number(index) % this.leases.length]?.id;
  }

  learn(request: GeneratedRequest, status: number, body: unknown): void {
    const seen = `${request.method} ${request.route} ${status}`;
    this.statuses.set(seen, (this.statuses.get(seen) ?? 0) + 1);
    if (status < 200 || status >= 300) return;
    this.collect(body, 0);
    if (request.method === "POST" && request.route === "/v1/queues/{queue}/jobs") this.accept(body);
    if (request.method === "POST" && request.route === "/v1/queues/{queue}/jobs/bulk") {
      for (const job of (body as { jobs: unknown[] }).jobs) this.accept(job);
    }
    if (request.route === "/v1/checks/{name}/start") {
      // A check runs as a probe job in its own queue; the engine adds outcome jobs itself.
      const { name, id } = body as { name: string; id: string };
      this.accepted.add(`${checkQueueName(name)}\u0000${id}`);
    }
    if (request.route === "/v1/queues/{queue}/dead/purge") {
      this.purged += (body as { purged: number }).purged;
    }
  }

  private accept(job: unknown): void {
    const { queue, id } = job as { queue: string; id: string };
    this.accepted.add(`${queue}\u0000${id}`);
  }

  private collect(value: unknown, depth: number): void {
    if (depth > 4 || value === null || typeof value !== "object") return;
    if (Array.isArray(value)) {
      for (const item of value) this.collect(item, depth + 1);
      return;
    }
    const record = value as Record<string, unknown>;
    if (typeof record.id === "string" && typeof record.leaseToken === "string") {
      this.leases.push({ id: record.id, leaseToken: record.leaseToken });
    }
    for (const name of ["id", "key", "leaseToken"] as const) {
      const found = record[name];
      if (typeof found === "string" && !this.pools[name].includes(found)) this.pools[name].push(found);
    }
    for (const nested of Object.values(record)) this.collect(nested, depth + 1);
  }
}

function urlOf(request: GeneratedRequest, tracker: Tracker): string {
  const path = request.route.replace(/\{(\w+)\}/g, (_, name: string) => {
    const param = request.params[name]!;
    if (typeof param === "string") return param;
    return encodeSegment((param.pool === "id" && tracker.leasedJob(request.body)) || tracker.pick(param));
  });
  return request.query === "" ? path : `${path}?${request.query}`;
}

function bodyOf(request: GeneratedRequest, tracker: Tracker): string | undefined {
  return request.body
    ?.replace(/"@leasedId"(,"leaseToken":"@leaseToken:(\d+)")?/g, (_, tail: string | undefined, index: string) => {
      const job = index === undefined ? undefined : tracker.leases[Number(index) % tracker.leases.length];
      return JSON.stringify(job?.id ?? "no-such-job") + (tail ?? "");
    })
    .replace(/"@now:(-?\d+)"/g, (_, offset: string) => String(Date.now() + Number(offset)))
    .replace(/@(id|key|leaseToken):(\d+)/g, (_, pool: PoolRef["pool"], index: string) =>
      tracker.pick({ pool, index: Number(index) }),
    );
}

async function send(server: RunningServer, request: GeneratedRequest, tracker: Tracker): Promise<Answer> {
  const url = urlOf(request, tracker);
  const body = bodyOf(request, tracker);
  const headers: Record<string, string> = {};
  if (request.contentType !== undefined) headers["content-type"] = request.contentType;
  if (!request.overHttp) {
    const response = await server.app.inject({ method: request.method as "GET", url, headers, payload: body });
    return { status: response.statusCode, text: response.body };
  }
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      { host: "127.0.0.1", port: Number(port), method: request.method, path: url, headers, agent: false },
      (response) => {
        let text = "";
        response.setEncoding("utf8").on("data", (chunk: string) => {
          text += chunk;
        });
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
      },
    );
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

/** The invariants every single answer keeps. */
function checkAnswer(request: GeneratedRequest, answer: Answer): unknown {
  const what = `${request.method} ${request.route} → ${answer.status} ${answer.text.slice(0, 300)}`;
  expect(answer.status, what).toBeLessThan(500);
  if (request.route === "/metrics" && answer.status === 200) return null;
  const body = answer.text === "" ? null : JSON.parse(answer.text);
  if (answer.status >= 400) {
    expect(Object.keys(body), what).toEqual(["error"]);
    const { code, message, details, ...rest } = body.error;
    expect(rest, what).toEqual({});
    expect(DOCUMENTED.has(code), `undocumented code: ${what}`).toBe(true);
    expect(typeof message, what).toBe("string");
    if (details !== undefined) expect(typeof details, what).toBe("object");
  }
  if (answer.status < 300 && request.route.startsWith("/v1/checks/{name}") && typeof body?.name === "string") {
    expect(["", ".", ".."].includes(body.name), `a check named ${JSON.stringify(body.name)}: ${what}`).toBe(false);
  }
  if (acceptedJobs(request, answer.status, body).length > 0) {
    expect(carriesNonFinite(request.body), `a payload JSON cannot carry was accepted: ${what}`).toBe(false);
  }
  for (const job of acceptedJobs(request, answer.status, body)) {
    expect(
      Number.isSafeInteger(job.runAt) && job.runAt <= MAX_INSTANT,
      `accepted job due at ${job.runAt}: ${what}`,
    ).toBe(true);
  }
  return body;
}

/** A number JSON can write but not carry: 1e400 parses as Infinity, then is stored as null. */
function carriesNonFinite(text: string | undefined): boolean {
  if (text === undefined || !/\d[eE]\+?\d{3}/.test(text)) return false;
  let found = false;
  try {
    JSON.parse(text, (_, value) => {
      if (typeof value === "number" && !Number.isFinite(value)) found = true;
      return value;
    });
  } catch {
    return false;
  }
  return found;
}

function acceptedJobs(request: GeneratedRequest, status: number, body: unknown): { runAt: number }[] {
  if (status < 200 || status >= 300 || request.method !== "POST") return [];
  if (request.route === "/v1/queues/{queue}/jobs") return [body as { runAt: number }];
  if (request.route === "/v1/queues/{queue}/jobs/bulk") return (body as { jobs: { runAt: number }[] }).jobs;
  return [];
}

/**
 * Every job of every user queue in the store, as "queue\0id", and the probe jobs of checks
 * (one per accepted start); a check's outcome jobs and a schedule's firings are the engines' own.
 */
/** A schedule's firing (added by an accepted PUT /v1/schedules or a trigger): the schedule engine's own job. */
function isFiring(job: { key: string | null; payload: string }): boolean {
  const schedule = (JSON.parse(job.payload) as { schedule?: unknown } | null)?.schedule;
  return typeof schedule === "string" && job.key?.startsWith(`${schedule}@`) === true;
}

async function storedJobs(store: Store): Promise<Set<string>> {
  const found = new Set<string>();
  for (const queue of await store.queues()) {
    if (isReservedQueue(queue)) continue;
    for (const state of JOB_STATES) {
      let cursor: string | undefined;
      do {
        const page = await store.list(queue, state, { limit: 1000, ...(cursor && { cursor }) });
        for (const job of page.jobs) {
          const engineOwn =
            (queue.startsWith(CHECK_QUEUE_PREFIX) && !job.key?.startsWith(CHECK_KEY_PREFIX)) || isFiring(job);
          if (!engineOwn) found.add(`${queue}\u0000${job.id}`);
        }
        cursor = page.next ?? undefined;
      } while (cursor);
    }
  }
  return found;
}

async function fuzz(kind: StoreKind, store: Store): Promise<void> {
  const config = resolveServerConfig({
    port: 0,
    logLevel: process.env.CHECKBACK_FUZZ_LOG ?? "silent",
    maxWait: "50ms",
    bodyLimit: "1mb",
  });
  const server = await startServer(config, { store });
  const tracker = new Tracker();
  try {
    const document = (await server.app.inject({ method: "GET", url: "/openapi.json" })).json();
    const operations = operationsOf(document);
    expect(operations.length).toBeGreaterThan(25);
    const pending = Object.entries(PENDING_LIBRARY_FIXES)
      .filter(([category, stores]) => stores.includes(kind) && !sent(category))
      .map(([category]) => category as Category);
    const arbitrary = fc
      // Writes have more to get wrong (bodies, the store's state) than reads: sent three times as often.
      .oneof(
        ...operations.map((operation) => ({
          weight: operation.body ? 3 : 1,
          arbitrary: requestFor(operation, ["fz-a", "fz-b"]),
        })),
      )
      .filter((request) => !request.tags.some((tag) => pending.includes(tag)));
    await fc.assert(
      fc.asyncProperty(arbitrary, async (request) => {
        const answer = await send(server, request, tracker);
        tracker.learn(request, answer.status, checkAnswer(request, answer));
      }),
      // One property run is one request against a store that keeps its state, so a failure
      // is reported as found (seed and request) rather than shrunk against a changed store.
      { numRuns: RUNS, seed: SEED, endOnFailure: true, verbose: 1 },
    );
    if (process.env.CHECKBACK_FUZZ_STATS === "1") {
      console.log(
        kind,
        [...tracker.statuses]
          .sort()
          .map(([seen, count]) => `${seen}: ${count}`)
          .join("\n"),
      );
    }
    const stored = await storedJobs(store);
    const phantom = [...stored].filter((job) => !tracker.accepted.has(job));
    // A check's probe jobs belong to the check engine once they finish (it keeps only recent
    // history), so for checks only the other direction holds: no probe job without a start.
    const lost = [...tracker.accepted].filter((job) => !stored.has(job) && !job.startsWith(CHECK_QUEUE_PREFIX));
    if (process.env.CHECKBACK_FUZZ_STATS === "1") console.log("lost", JSON.stringify(lost), tracker.purged);
    expect(phantom, `jobs no accepted request added (seed ${SEED})`).toEqual([]);
    expect(lost.length, `accepted jobs missing beyond the ${tracker.purged} purged (seed ${SEED})`).toBe(
      tracker.purged,
    );
    expect(tracker.accepted.size, "the fuzz added jobs").toBeGreaterThan(0);
  } catch (error) {
    console.error(`fuzz on ${kind} failed; replay with CHECKBACK_FUZZ_SEED=${SEED} CHECKBACK_FUZZ_RUNS=${RUNS}`);
    throw error;
  } finally {
    await server.close();
  }
}

describe("HTTP fuzz from the OpenAPI document", { timeout: 120_000 }, () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("memory store", async () => {
    await fuzz("memory", new MemoryStore());
  });

  it("SQLite store", async () => {
    dir = await mkdtemp(join(tmpdir(), "checkback-fuzz-"));
    await fuzz("sqlite", new SqliteStore({ path: join(dir, "fuzz.db") }));
  });

  it("Redis store", async (context) => {
    if (!(await reachable(REDIS_URL, "Redis", "redis-server --port 6379"))) return context.skip();
    const prefix = `cbfuzz-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const store = new RedisStore({ url: REDIS_URL, prefix, checkDurability: false });
    const cleanup = new RedisStore({ url: REDIS_URL, prefix, checkDurability: false });
    try {
      await fuzz("redis", store);
    } finally {
      const client = cleanup.client as import("ioredis").Redis;
      const keys: string[] = [];
      for await (const batch of client.scanStream({ match: `${prefix}:*`, count: 1000 })) keys.push(...batch);
      if (keys.length > 0) await client.unlink(...keys);
      await cleanup.close();
    }
  });

  it("PostgreSQL store", async (context) => {
    if (!(await postgresReachable())) return context.skip();
    const schema = randomSchema("cbfuzz");
    try {
      await fuzz("postgres", openPostgresStore(`${DATABASE_URL}?schema=${schema}`));
    } finally {
      await dropSchema(schema);
    }
  });
});
