import type { JobRecord } from "checkback";
import { DEFAULT_BACKOFF, toJob } from "checkback/internal";
import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { markTrace } from "../../packages/checkback/src/core/trace-mark.js";
import { claimedJobsJson } from "../../packages/server/src/http/job-json.js";
import { claimedJobSchema } from "../../packages/server/src/http/schemas.js";

const record = (over: Partial<JobRecord> = {}): JobRecord => ({
  id: "1042",
  queue: "orders",
  key: null,
  payload: '{"order":1001,"amount":100}',
  state: "active",
  runAt: 1_764_612_345_678,
  attempts: 1,
  maxAttempts: 3,
  backoff: DEFAULT_BACKOFF,
  priority: 0,
  group: null,
  errors: [],
  result: null,
  createdAt: 1_764_612_345_000,
  updatedAt: 1_764_612_346_000,
  leaseToken: "abcdefghijklmnop",
  leaseExpiresAt: 1_764_612_405_678,
  ...over,
});

/** The claim answer as the route wrote it before: each record as a job view, through the schema's serializer. */
async function throughSchema(records: JobRecord[]): Promise<string> {
  const app = Fastify();
  app.get(
    "/",
    {
      schema: {
        response: { 200: { type: "object", properties: { jobs: { type: "array", items: claimedJobSchema } } } },
      },
    },
    async () => ({
      jobs: records.map((r) => ({ ...toJob(r), leaseToken: r.leaseToken!, leaseExpiresAt: r.leaseExpiresAt! })),
    }),
  );
  const answer = await app.inject({ method: "GET", url: "/" });
  await app.close();
  return answer.body;
}

describe("the claim answer written from store records", () => {
  it("says what the schema's serializer says of the job views, payloads passed through", async () => {
    const records = [
      record(),
      record({
        id: "7",
        key: 'order "7" \\ ünïcode \ud83d\ude00 \u0001',
        payload: JSON.stringify({ nested: { list: [1, 2.5, null, "x\ny"], big: 1e21 }, text: "\ud800 lone" }),
        attempts: 3,
        maxAttempts: 5,
        priority: -4,
        errors: [
          { attempt: 1, at: 1_764_612_000_000, message: "timeout" },
          { attempt: 2, at: 1_764_612_100_000, message: 'said "no"' },
        ],
        result: JSON.stringify(["partial", 1]),
      }),
      // A traced job: its payload carries the trace mark, which the answer leaves out.
      record({
        id: "8",
        payload: markTrace("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", '"plain text"'),
      }),
      record({ id: "9", payload: "null", key: "" }),
      record({ id: "10", group: 'merchant "7" \u00e9' }),
    ];
    const written = claimedJobsJson(records);
    expect(JSON.parse(written)).toEqual(JSON.parse(await throughSchema(records)));
    expect(JSON.parse(written).jobs[2].payload).toBe("plain text");
  });

  it("answers no jobs as an empty list", async () => {
    expect(claimedJobsJson([])).toBe('{"jobs":[]}');
    expect(JSON.parse(await throughSchema([]))).toEqual({ jobs: [] });
  });
});
