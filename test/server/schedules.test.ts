import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Api, snapshot, startTestServer, type TestServer, uniqueQueue, until } from "./helpers.js";

const PRODUCER = "producer-token-0001";
const CONSUMER = "consumer-token-0001";

let server: TestServer;
let api: Api;

beforeAll(async () => {
  server = await startTestServer({ tokens: `${PRODUCER}:produce;${CONSUMER}:consume` });
  api = server.api;
});
afterAll(() => server.close());

describe("schedules over HTTP", () => {
  it("define, read, pull the firings as ordinary jobs, pause, resume, trigger, remove", async () => {
    const producer = api.as(PRODUCER);
    const consumer = api.as(CONSUMER);
    const queue = uniqueQueue("reports");
    const name = uniqueQueue("every-second");
    const definition = { every: "1s", queue, payload: { report: "unpaid" }, missed: "skip" };

    const created = await producer.put(`/v1/schedules/${name}`, definition);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name,
      outcome: "created",
      state: "active",
      definition: { everyMs: 1000, queue },
    });
    expect(created.body.next).toHaveLength(5);
    const again = await producer.put(`/v1/schedules/${name}`, definition);
    expect(again.status).toBe(200);
    expect(again.body.outcome).toBe("unchanged");

    // Any token reads; the next firings are one second apart.
    const read = await consumer.get(`/v1/schedules/${name}?next=3`);
    expect(read.status).toBe(200);
    const [a, b, c] = read.body.next as number[];
    expect([b! - a!, c! - b!]).toEqual([1000, 1000]);
    const listed = await consumer.get("/v1/schedules?next=2");
    expect(listed.body.schedules.find((s: { name: string }) => s.name === name).next).toHaveLength(2);

    // A pull consumer gets the firings from the queue like any job.
    const claimed = await until(async () => {
      const answer = await consumer.post(`/v1/queues/${queue}/claim`, { limit: 10, lease: "30s", wait: "2s" });
      return answer.body.jobs?.length > 0 && answer.body.jobs;
    }, "a firing to claim");
    const firing = claimed[0];
    expect(firing.key).toBe(`${name}@${firing.payload.tick}`);
    expect(firing.payload).toMatchObject({ schedule: name, kind: "tick", payload: { report: "unpaid" } });
    expect(firing.runAt).toBe(Date.parse(firing.payload.tick));
    const done = await consumer.post(`/v1/queues/${queue}/jobs/${firing.id}/complete`, {
      leaseToken: firing.leaseToken,
    });
    expect(done.status).toBe(200);

    const paused = await producer.post(`/v1/schedules/${name}/pause`);
    expect(paused.body).toMatchObject({ state: "paused", next: [] });
    const waiting = await api.as(PRODUCER).get(`/v1/queues/${queue}/jobs?state=scheduled`);
    expect(waiting.body.jobs.filter((j: { key: string }) => j.key.startsWith(`${name}@`))).toEqual([]);
    expect((await producer.post(`/v1/schedules/${name}/resume`, {})).body.state).toBe("active");

    const triggered = await producer.post(`/v1/schedules/${name}/trigger`, { payload: { by: "hand" } });
    expect(triggered.status).toBe(201);
    expect(triggered.body).toMatchObject({
      queue,
      payload: { schedule: name, kind: "trigger", payload: { by: "hand" } },
    });

    expect((await producer.delete(`/v1/schedules/${name}`)).body).toEqual({ removed: true });
    const gone = await consumer.get(`/v1/schedules/${name}`);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe("SCHEDULE_NOT_FOUND");
    expect((await producer.delete(`/v1/schedules/${name}`)).status).toBe(404);
    expect((await producer.post(`/v1/schedules/${name}/trigger`)).status).toBe(404);
  });

  it("a consume token reads but cannot define; bad definitions are 400 naming the field, nothing stored", async () => {
    const queue = uniqueQueue("bad");
    const name = uniqueQueue("bad");
    expect((await api.as(CONSUMER).put(`/v1/schedules/${name}`, { every: "1m", queue })).status).toBe(403);
    for (const [body, field] of [
      [{ cron: "not a cron", queue }, "cron"],
      [{ cron: "0 30 2 * * *", timezone: "Mars/Olympus", queue }, "timezone"],
      [{ every: "200ms", queue }, "every"],
      [{ every: "1m", start: 2_000_000_000_000, end: 1_000_000_000_000, queue }, "end"],
      [{ every: "1m", missed: "all", maxMissed: 0, queue }, "maxMissed"],
    ] as const) {
      const answer = await api.as(PRODUCER).put(`/v1/schedules/${name}`, body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.error).toMatchObject({ code: "INVALID_OPTION", details: { field } });
    }
    expect((await api.as(PRODUCER).get(`/v1/schedules/${name}`)).status).toBe(404);
  });

  it("a schedule cannot target a reserved queue, and the schedule queues are out of the queue routes", async () => {
    const name = uniqueQueue("forged");
    for (const queue of ["check.payment", "_checkback.settings", "_schedules", `schedule.${name}`]) {
      const before = await snapshot(server.checkback.store, queue);
      const answer = await api.as(PRODUCER).put(`/v1/schedules/${name}`, { every: "1s", queue });
      expect(answer.status, queue).toBe(404);
      expect(answer.body.error).toMatchObject({ code: "UNKNOWN_QUEUE", details: { reserved: true } });
      expect(await snapshot(server.checkback.store, queue)).toEqual(before);
    }
    await api.as(PRODUCER).put(`/v1/schedules/${name}`, { every: "1h", queue: uniqueQueue() });
    const claim = await api.as(CONSUMER).post("/v1/queues/_schedules/claim", {});
    expect(claim.body.error).toMatchObject({ code: "UNKNOWN_QUEUE", details: { reserved: true } });
    const queues = (await api.as(CONSUMER).get("/v1/queues")).body.queues.map((q: { name: string }) => q.name);
    expect(queues).not.toContain("_schedules");
  });
});
