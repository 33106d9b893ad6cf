import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { invalidOption } from "../../packages/checkback/src/core/errors.js";
import { MemoryStore } from "../../packages/checkback/src/stores/memory/memory-store.js";
import { type Api, snapshot, startTestServer, type TestServer, uniqueQueue, until } from "./helpers.js";

/**
 * Job groups over HTTP (docs/flow-control.md#groups): a job's group on add and on every view,
 * the queue's default limits for groups, one group's own limits, its pause and state, the
 * busiest groups, a release that pauses the job's group, their metrics, bad input and scopes.
 */

const PRODUCER = "producer-token-0001";
const CONSUMER = "consumer-token-0001";
const READER = "reader-token-000001";
const ADMIN = "admin-token-00000001";

let server: TestServer;
let api: Api;
let consumer: Api;
let dir: string;

/** The stores the group routes run on here: the memory store (the reference) and SQLite, each in a file of its own. */
const STORES = [
  { name: "memory", store: () => "memory:" },
  { name: "SQLite", store: () => `sqlite:${join(dir, `${randomUUID()}.db`)}` },
];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "checkback-groups-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const metricsText = async () => (await (await fetch(`${server.api.base}/metrics`)).text()) as string;
/** The value of one series, found by its exact label text (`queue="q"` or `queue="q",group="g"`). */
const series = (text: string, name: string, labels: string) => {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.split(" ").at(-1));
};
const claim = async (queue: string, limit = 10) =>
  (await consumer.post(`/v1/queues/${queue}/claim`, { limit, lease: "30s" })).body.jobs as {
    id: string;
    leaseToken: string;
    group: string | null;
    payload: unknown;
  }[];
const groupsOf = (jobs: { group: string | null }[]) => jobs.map((j) => j.group).sort();
const noLimits = { concurrency: null, limit: null };

describe.each(STORES)("groups over HTTP on the $name store", ({ store }) => {
  beforeAll(async () => {
    server = await startTestServer({
      store: store(),
      tokens: `${READER}:read;${PRODUCER}:produce;${CONSUMER}:consume;${ADMIN}:admin`,
    });
    api = server.api.as(PRODUCER);
    consumer = server.api.as(CONSUMER);
  });
  afterAll(() => server.close());

  describe("a job's group", () => {
    it("is taken on add, alone and in bulk, and shown on every view of the job", async () => {
      const queue = uniqueQueue();
      const one = await api.post(`/v1/queues/${queue}/jobs`, { payload: 1, group: "merchant-7", key: "k1" });
      expect(one.status, JSON.stringify(one.body)).toBe(201);
      expect(one.body).toMatchObject({ group: "merchant-7", priority: 0 });
      const bulk = await api.post(`/v1/queues/${queue}/jobs/bulk`, {
        jobs: [{ payload: 2, group: "merchant-8" }, { payload: 3 }, { payload: 4, group: null }],
      });
      expect(bulk.status).toBe(201);
      expect(bulk.body.jobs.map((j: { group: string | null }) => j.group)).toEqual(["merchant-8", null, null]);
      expect((await api.get(`/v1/queues/${queue}/jobs/${one.body.id}`)).body.group).toBe("merchant-7");
      expect((await api.get(`/v1/queues/${queue}/keys/k1`)).body.group).toBe("merchant-7");
      const listed = (await api.get(`/v1/queues/${queue}/jobs?state=scheduled`)).body.jobs;
      expect(groupsOf(listed)).toEqual([null, null, "merchant-7", "merchant-8"].sort());
      const claimed = await claim(queue);
      expect(groupsOf(claimed)).toEqual([null, null, "merchant-7", "merchant-8"].sort());
      const grouped = claimed.find((j) => j.group === "merchant-7")!;
      const failed = await consumer.post(`/v1/queues/${queue}/jobs/${grouped.id}/fail`, {
        leaseToken: grouped.leaseToken,
        error: "no",
      });
      expect(failed.body.job.group).toBe("merchant-7");
    });

    it("refuses an empty, over-long or control-character group, and a group with a priority: INVALID_OPTION, nothing added", async () => {
      const queue = uniqueQueue();
      const bad: [Record<string, unknown>, string][] = [
        [{ group: "" }, "group"],
        [{ group: "g".repeat(257) }, "group"],
        [{ group: "tab\there" }, "group"],
        [{ group: "merchant-7", priority: 3 }, "priority"],
        [{ group: "merchant-7", priority: -1 }, "priority"],
      ];
      for (const [options, field] of bad) {
        const one = await api.post(`/v1/queues/${queue}/jobs`, { payload: 1, ...options });
        expect(one.status, JSON.stringify(options)).toBe(400);
        expect(one.body.error, JSON.stringify(options)).toMatchObject({ code: "INVALID_OPTION", details: { field } });
        const bulk = await api.post(`/v1/queues/${queue}/jobs/bulk`, {
          jobs: [{ payload: 1 }, { payload: 2, ...options }],
        });
        expect(bulk.status, JSON.stringify(options)).toBe(400);
        expect(bulk.body.error, JSON.stringify(options)).toMatchObject({ code: "INVALID_OPTION" });
      }
      // Not a string at all: the schema refuses it before the library sees it.
      const number = await api.post(`/v1/queues/${queue}/jobs`, { payload: 1, group: 42 });
      expect(number.status).toBe(400);
      expect(number.body.error.code).toBe("INVALID_REQUEST");
      expect(await snapshot(server.checkback.store, queue)).toMatchObject({ jobs: [[], [], [], [], []] });
      // The longest group there may be is taken.
      expect((await api.post(`/v1/queues/${queue}/jobs`, { payload: 1, group: "g".repeat(256) })).status).toBe(201);
    });
  });

  describe("the queue's default limits for groups", () => {
    it("are set, shown (also in the flow settings and the queue list) and lifted", async () => {
      const queue = uniqueQueue();
      expect((await api.as(READER).get(`/v1/queues/${queue}/group-limits`)).body).toEqual({ groupLimits: null });
      const set = await api.put(`/v1/queues/${queue}/group-limits`, { concurrency: 2, rate: { rate: 10, per: "1s" } });
      expect(set.status, JSON.stringify(set.body)).toBe(200);
      const limits = { concurrency: 2, limit: { rate: 10, perMs: 1000 } };
      expect(set.body).toEqual({ groupLimits: limits });
      expect((await api.get(`/v1/queues/${queue}/group-limits`)).body).toEqual({ groupLimits: limits });
      expect((await api.get(`/v1/queues/${queue}/flow`)).body).toEqual({
        limit: null,
        pausedUntil: null,
        tokens: null,
        groupLimits: limits,
      });
      await api.post(`/v1/queues/${queue}/jobs`, { payload: 1, group: "a" });
      const listed = (await api.get("/v1/queues")).body.queues.find((q: { name: string }) => q.name === queue);
      expect(listed.flow.groupLimits).toEqual(limits);
      // A group without limits of its own takes the default.
      expect((await api.get(`/v1/queues/${queue}/groups/a`)).body).toMatchObject({ limits, ownLimits: false });
      // What is sent replaces what was kept: a limit left out is none.
      const concurrencyOnly = await api.put(`/v1/queues/${queue}/group-limits`, { concurrency: 3 });
      expect(concurrencyOnly.body).toEqual({ groupLimits: { concurrency: 3, limit: null } });
      const lifted = await api.delete(`/v1/queues/${queue}/group-limits`);
      expect(lifted.body).toEqual({ groupLimits: null });
      expect((await api.get(`/v1/queues/${queue}/groups/a`)).body.limits).toEqual(noLimits);
    });

    it("hold each group to its concurrency over the pull API; a finished job lets the group's next one start", async () => {
      const queue = uniqueQueue();
      await api.put(`/v1/queues/${queue}/group-limits`, { concurrency: 1 });
      const jobs = [
        ...[1, 2, 3].map((n) => ({ payload: `a${n}`, group: "a" })),
        ...[1, 2].map((n) => ({ payload: `b${n}`, group: "b" })),
        { payload: "plain" },
      ];
      await api.post(`/v1/queues/${queue}/jobs/bulk`, { jobs });
      const first = await claim(queue);
      expect(groupsOf(first)).toEqual([null, "a", "b"].sort());
      expect(await claim(queue)).toHaveLength(0);
      expect((await api.get(`/v1/queues/${queue}/groups/a`)).body).toEqual({
        group: "a",
        limits: { concurrency: 1, limit: null },
        ownLimits: false,
        active: 1,
        scheduled: 2,
        pausedUntil: null,
        tokens: null,
      });
      const a = first.find((j) => j.group === "a")!;
      await consumer.post(`/v1/queues/${queue}/jobs/${a.id}/complete`, { leaseToken: a.leaseToken });
      const next = await claim(queue);
      expect(next.map((j) => j.payload)).toEqual(["a2"]);
    });
  });

  describe("one group's own limits, pause and state", () => {
    it("a group's own limits take the place of the default until they are dropped", async () => {
      const queue = uniqueQueue();
      await api.put(`/v1/queues/${queue}/group-limits`, { concurrency: 1 });
      const own = await api.put(`/v1/queues/${queue}/groups/vip/limits`, {
        concurrency: 3,
        rate: { rate: 5, per: "1m" },
      });
      expect(own.status, JSON.stringify(own.body)).toBe(200);
      expect(own.body).toMatchObject({
        group: "vip",
        limits: { concurrency: 3, limit: { rate: 5, perMs: 60_000 } },
        ownLimits: true,
        tokens: 5,
      });
      await api.post(`/v1/queues/${queue}/jobs/bulk`, {
        jobs: [1, 2, 3, 4].map((payload) => ({ payload, group: "vip" })),
      });
      expect(await claim(queue)).toHaveLength(3);
      expect((await api.get(`/v1/queues/${queue}/groups/vip`)).body).toMatchObject({
        active: 3,
        scheduled: 1,
        tokens: 2,
      });
      const dropped = await api.delete(`/v1/queues/${queue}/groups/vip/limits`);
      expect(dropped.body).toMatchObject({ ownLimits: false, limits: { concurrency: 1, limit: null } });
    });

    it("a group with no job and no flow state answers zeros", async () => {
      const queue = uniqueQueue();
      expect((await api.as(READER).get(`/v1/queues/${queue}/groups/nobody`)).body).toEqual({
        group: "nobody",
        limits: noLimits,
        ownLimits: false,
        active: 0,
        scheduled: 0,
        pausedUntil: null,
        tokens: null,
      });
    });

    it("pauses one group (delay or runAt) while the queue's other groups go on, and resumes it", async () => {
      const queue = uniqueQueue();
      await api.post(`/v1/queues/${queue}/jobs/bulk`, {
        jobs: [
          { payload: 1, group: "a" },
          { payload: 2, group: "b" },
        ],
      });
      const before = Date.now();
      const paused = await api.post(`/v1/queues/${queue}/groups/a/pause`, { delay: "30s" });
      expect(paused.status, JSON.stringify(paused.body)).toBe(200);
      expect(paused.body.pausedUntil).toBeGreaterThanOrEqual(before + 29_000);
      expect(groupsOf(await claim(queue))).toEqual(["b"]);
      expect((await api.get(`/v1/queues/${queue}/flow`)).body.pausedUntil).toBeNull();
      const runAt = Date.now() + 3_600_000;
      expect((await api.post(`/v1/queues/${queue}/groups/a/pause`, { runAt })).body.pausedUntil).toBe(runAt);
      const resumed = await api.post(`/v1/queues/${queue}/groups/a/resume`);
      expect(resumed.status).toBe(200);
      expect(resumed.body.pausedUntil).toBeNull();
      expect(groupsOf(await claim(queue))).toEqual(["a"]);
    });

    it("names travel percent-encoded: a group with spaces, slashes and non-ASCII letters", async () => {
      const queue = uniqueQueue();
      const group = "merchant 7/Zürich";
      await api.post(`/v1/queues/${queue}/jobs`, { payload: 1, group });
      const path = `/v1/queues/${queue}/groups/${encodeURIComponent(group)}`;
      expect((await api.get(path)).body).toMatchObject({ group, scheduled: 1 });
      expect((await api.put(`${path}/limits`, { concurrency: 2 })).body).toMatchObject({ group, ownLimits: true });
    });
  });

  describe("the busiest groups", () => {
    it("lists the groups with the most active jobs and counts every active group; /metrics shows the busiest 20", async () => {
      const queue = uniqueQueue();
      // 25 groups: "g00" has 3 active jobs, "g01" 2, the rest 1 each.
      const names = Array.from({ length: 25 }, (_, i) => `g${String(i).padStart(2, "0")}`);
      const jobs = names.flatMap((group, i) =>
        Array.from({ length: i === 0 ? 3 : i === 1 ? 2 : 1 }, () => ({ payload: group, group })),
      );
      await api.post(`/v1/queues/${queue}/jobs/bulk`, { jobs });
      await until(async () => (await claim(queue, 100)).length === 0, "every job claimed");
      const top = await api.as(READER).get(`/v1/queues/${queue}/groups?limit=3`);
      expect(top.status).toBe(200);
      expect(top.body.activeGroups).toBe(25);
      expect(top.body.groups.map((g: { group: string; active: number }) => [g.group, g.active])).toEqual([
        ["g00", 3],
        ["g01", 2],
        ["g02", 1],
      ]);
      expect((await api.get(`/v1/queues/${queue}/groups`)).body.groups).toHaveLength(20);

      const text = await metricsText();
      expect(series(text, "checkback_groups_active", `queue="${queue}"`)).toBe(25);
      expect(series(text, "checkback_group_jobs_active", `queue="${queue}",group="g00"`)).toBe(3);
      const shown = text.split("\n").filter((l) => l.startsWith(`checkback_group_jobs_active{queue="${queue}",`));
      expect(shown).toHaveLength(20);
      expect(text).toMatch(/# HELP checkback_group_jobs_active .*20 busiest groups only/);
    });

    it("refuses a limit outside 1..1000", async () => {
      const queue = uniqueQueue();
      for (const limit of ["0", "1001", "-1", "1.5", "many"]) {
        const answer = await api.get(`/v1/queues/${queue}/groups?limit=${limit}`);
        expect(answer.status, limit).toBe(400);
        expect(answer.body.error.code, limit).toBe("INVALID_REQUEST");
      }
    });

    it("a queue without active groups has no group series", async () => {
      const queue = uniqueQueue();
      await api.post(`/v1/queues/${queue}/jobs`, { payload: 1, group: "waiting" });
      const text = await metricsText();
      expect(series(text, "checkback_groups_active", `queue="${queue}"`)).toBeUndefined();
      expect(text).not.toContain(`checkback_group_jobs_active{queue="${queue}"`);
    });
  });

  describe("a release that pauses the job's group", () => {
    it("gives the job back without an attempt and pauses its group, not the queue, until the job is due", async () => {
      const queue = uniqueQueue();
      await api.post(`/v1/queues/${queue}/jobs/bulk`, {
        jobs: [
          { payload: "a1", group: "a" },
          { payload: "a2", group: "a" },
        ],
      });
      const [job] = await claim(queue, 1);
      const before = Date.now();
      const released = await consumer.post(`/v1/queues/${queue}/jobs/${job!.id}/release`, {
        leaseToken: job!.leaseToken,
        delay: "30s",
        pauseGroup: true,
      });
      expect(released.status, JSON.stringify(released.body)).toBe(200);
      expect((await api.get(`/v1/queues/${queue}/jobs/${job!.id}`)).body).toMatchObject({
        state: "scheduled",
        attempts: 0,
      });
      const state = (await api.get(`/v1/queues/${queue}/groups/a`)).body;
      expect(state.pausedUntil).toBeGreaterThanOrEqual(before + 29_000);
      expect(state.active).toBe(0);
      expect((await api.get(`/v1/queues/${queue}/flow`)).body.pausedUntil).toBeNull();
      // The group's other job waits for the pause; a job outside the group does not.
      await api.post(`/v1/queues/${queue}/jobs`, { payload: "plain" });
      expect((await claim(queue)).map((j) => j.payload)).toEqual(["plain"]);
    });
  });

  describe("a release that pauses a group the job does not have", () => {
    it("is refused with INVALID_OPTION and the job stays leased, nothing paused", async () => {
      const queue = uniqueQueue();
      await api.post(`/v1/queues/${queue}/jobs`, { payload: "plain" });
      const [job] = await claim(queue, 1);
      const refused = await consumer.post(`/v1/queues/${queue}/jobs/${job!.id}/release`, {
        leaseToken: job!.leaseToken,
        delay: "30s",
        pauseGroup: true,
      });
      expect(refused.status).toBe(400);
      expect(refused.body.error).toMatchObject({ code: "INVALID_OPTION", details: { field: "pauseGroup" } });
      expect((await api.get(`/v1/queues/${queue}/jobs/${job!.id}`)).body).toMatchObject({
        state: "active",
        attempts: 1,
      });
      expect((await api.get(`/v1/queues/${queue}/flow`)).body.pausedUntil).toBeNull();
      const done = await consumer.post(`/v1/queues/${queue}/jobs/${job!.id}/complete`, { leaseToken: job!.leaseToken });
      expect(done.status).toBe(200);
    });
  });

  describe("bad group limits and pauses", () => {
    const badLimits: [unknown, string][] = [
      [{ concurrency: 0 }, "concurrency"],
      [{ concurrency: -1 }, "concurrency"],
      [{ concurrency: 1.5 }, "concurrency"],
      [{ concurrency: 2_000_000 }, "concurrency"],
      [{ rate: { rate: 0, per: "1s" } }, "rate"],
      [{ rate: { rate: -5, per: "1s" } }, "rate"],
      [{ rate: { rate: 2.5, per: "1s" } }, "rate"],
      [{ rate: { rate: 10, per: "0s" } }, "per"],
      [{ concurrency: 2, rate: { rate: 10, per: "48h" } }, "per"],
    ];

    it("are refused with INVALID_OPTION naming the field, and nothing is kept", async () => {
      const queue = uniqueQueue();
      for (const [body, field] of badLimits) {
        for (const path of [`/v1/queues/${queue}/group-limits`, `/v1/queues/${queue}/groups/g/limits`]) {
          const answer = await api.put(path, body);
          const what = `${path} ${JSON.stringify(body)}`;
          expect(answer.status, what).toBe(400);
          expect(answer.body.error, what).toMatchObject({ code: "INVALID_OPTION", details: { field } });
        }
      }
      expect((await api.get(`/v1/queues/${queue}/group-limits`)).body).toEqual({ groupLimits: null });
      expect((await api.get(`/v1/queues/${queue}/groups/g`)).body).toMatchObject({
        ownLimits: false,
        limits: noLimits,
      });
    });

    it("a body of the wrong shape is INVALID_REQUEST; a pause without an end is INVALID_OPTION", async () => {
      const queue = uniqueQueue();
      for (const body of [{ concurrency: "2" }, { rate: 10 }, { rate: { rate: 10 } }, { burst: 3 }, []]) {
        const answer = await api.put(`/v1/queues/${queue}/group-limits`, body);
        expect(answer.status, JSON.stringify(body)).toBe(400);
        expect(answer.body.error.code, JSON.stringify(body)).toBe("INVALID_REQUEST");
      }
      const pause = await api.post(`/v1/queues/${queue}/groups/g/pause`, {});
      expect(pause.status).toBe(400);
      expect(pause.body.error.code).toBe("INVALID_OPTION");
      expect((await api.get(`/v1/queues/${queue}/groups/g`)).body.pausedUntil).toBeNull();
    });

    it("a group name in the path follows the same rule as on add", async () => {
      const queue = uniqueQueue();
      for (const group of ["g".repeat(257), "tab\there"]) {
        const path = `/v1/queues/${queue}/groups/${encodeURIComponent(group)}`;
        for (const [method, body] of [
          ["GET", undefined],
          ["PUT", { concurrency: 1 }],
          ["POST", { delay: "1s" }],
        ] as const) {
          const url = method === "GET" ? path : method === "PUT" ? `${path}/limits` : `${path}/pause`;
          const answer = await api.send(method, url, body);
          expect(answer.status, `${method} ${group.slice(0, 10)}`).toBe(400);
          expect(answer.body.error).toMatchObject({ code: "INVALID_OPTION", details: { field: "group" } });
        }
      }
    });
  });

  describe("who may reach groups", () => {
    it("changing needs produce (or admin); reading needs any token", async () => {
      const queue = uniqueQueue();
      const changes: [string, string, unknown][] = [
        ["PUT", `/v1/queues/${queue}/group-limits`, { concurrency: 1 }],
        ["DELETE", `/v1/queues/${queue}/group-limits`, undefined],
        ["PUT", `/v1/queues/${queue}/groups/g/limits`, { concurrency: 1 }],
        ["DELETE", `/v1/queues/${queue}/groups/g/limits`, undefined],
        ["POST", `/v1/queues/${queue}/groups/g/pause`, { delay: "1s" }],
        ["POST", `/v1/queues/${queue}/groups/g/resume`, undefined],
      ];
      for (const [method, path, body] of changes) {
        expect((await api.as(CONSUMER).send(method, path, body)).status, `${method} ${path}`).toBe(403);
        expect((await api.as(READER).send(method, path, body)).status, `${method} ${path}`).toBe(403);
        expect((await api.as(undefined).send(method, path, body)).status, `${method} ${path}`).toBe(401);
        expect((await api.as(ADMIN).send(method, path, body)).status, `${method} ${path}`).toBe(200);
      }
      for (const path of [
        `/v1/queues/${queue}/group-limits`,
        `/v1/queues/${queue}/groups`,
        `/v1/queues/${queue}/groups/g`,
      ]) {
        expect((await api.as(CONSUMER).get(path)).status, path).toBe(200);
        expect((await api.as(undefined).get(path)).status, path).toBe(401);
      }
    });

    it("a server with a queue list keeps other queues' groups out of reach, whatever the token", async () => {
      const listed = uniqueQueue("listed");
      const other = uniqueQueue("other");
      const limited = await startTestServer({ store: store(), tokens: `${ADMIN}:admin`, queues: listed });
      try {
        const admin = limited.api.as(ADMIN);
        expect((await admin.get(`/v1/queues/${listed}/groups/g`)).status).toBe(200);
        const before = await snapshot(limited.checkback.store, other);
        for (const [method, path, body] of [
          ["GET", `/v1/queues/${other}/groups/g`, undefined],
          ["GET", `/v1/queues/${other}/groups`, undefined],
          ["PUT", `/v1/queues/${other}/group-limits`, { concurrency: 1 }],
          ["PUT", `/v1/queues/${other}/groups/g/limits`, { concurrency: 1 }],
          ["POST", `/v1/queues/${other}/groups/g/pause`, { delay: "1m" }],
        ] as const) {
          const answer = await admin.send(method, path, body);
          expect(answer.status, `${method} ${path}`).toBe(404);
          expect(answer.body.error.code).toBe("UNKNOWN_QUEUE");
        }
        expect(await limited.checkback.store.groupState(other, "g")).toMatchObject({
          ownLimits: false,
          pausedUntil: null,
        });
        expect((await limited.checkback.store.flowSettings(other)).groupLimits).toBeNull();
        expect(await snapshot(limited.checkback.store, other)).toEqual(before);
      } finally {
        await limited.close();
      }
    });
  });

  describe("an HTTP check with a group", () => {
    it("gives every probe job the group, and its probe rate limits that group, not the check's queue", async () => {
      const name = uniqueQueue("gw").replace(/-/g, "_");
      const admin = api.as(ADMIN);
      const definition = {
        probeUrl: "http://127.0.0.1:9/probe",
        callbackUrl: "http://127.0.0.1:9/cb",
        schedule: ["1h"],
        group: "gateway-1",
        probeRate: { rate: 5, per: "1s" },
      };
      const defined = await admin.put(`/v1/checks/${name}`, definition);
      expect(defined.status, JSON.stringify(defined.body)).toBe(200);
      expect(defined.body.group).toBe("gateway-1");
      expect((await admin.get(`/v1/checks/${name}`)).body.group).toBe("gateway-1");
      expect((await api.post(`/v1/checks/${name}/start`, { key: "T-1" })).status).toBe(201);
      const store = server.checkback.store;
      const checkQueue = `check.${name}`;
      expect((await store.getByKey(checkQueue, "check:T-1"))?.group).toBe("gateway-1");
      await until(
        async () => (await store.groupState(checkQueue, "gateway-1")).limits.limit?.rate === 5,
        "the group's probe rate kept",
      );
      expect((await store.flowSettings(checkQueue)).limit).toBeNull();
    });

    it("refuses a bad group in the definition, and keeps nothing", async () => {
      const name = uniqueQueue("gw").replace(/-/g, "_");
      const admin = api.as(ADMIN);
      const definition = {
        probeUrl: "http://127.0.0.1:9/probe",
        callbackUrl: "http://127.0.0.1:9/cb",
        schedule: ["1h"],
      };
      for (const group of ["", "g".repeat(257)]) {
        const answer = await admin.put(`/v1/checks/${name}`, { ...definition, group });
        expect(answer.status, group.slice(0, 10)).toBe(400);
        expect(answer.body.error).toMatchObject({ code: "INVALID_OPTION", details: { field: "group" } });
      }
      expect((await admin.get(`/v1/checks/${name}`)).status).toBe(404);
    });
  });
});

describe("/metrics over a store that refuses groups for a queue", () => {
  it("leaves that queue out of the group gauges, and the scrape still answers", async () => {
    class RefusingStore extends MemoryStore {
      override async busiestGroups(queue: string, limit: number) {
        if (queue.startsWith("refused-")) throw invalidOption("groups are not kept for this queue");
        return super.busiestGroups(queue, limit);
      }
    }
    const refusing = await startTestServer({}, new RefusingStore());
    try {
      const refused = uniqueQueue("refused");
      const kept = uniqueQueue("kept");
      for (const queue of [refused, kept]) {
        await refusing.api.post(`/v1/queues/${queue}/jobs`, { payload: 1, group: "g" });
        await refusing.api.post(`/v1/queues/${queue}/claim`, {});
      }
      const answer = await fetch(`${refusing.api.base}/metrics`);
      expect(answer.status).toBe(200);
      const text = await answer.text();
      expect(series(text, "checkback_groups_active", `queue="${kept}"`)).toBe(1);
      expect(text).not.toContain(`queue="${refused}",group=`);
      expect(series(text, "checkback_jobs", `queue="${refused}",state="active"`)).toBe(1);
    } finally {
      await refusing.close();
    }
  });
});
