import { describe, expect, it } from "vitest";
import { DEFAULT_BACKOFF } from "../../packages/checkback/src/core/backoff.js";
import type { JobRecord, JobState } from "../../packages/checkback/src/core/job.js";
import {
  decodePeek,
  earliest,
  keepLastCut,
  keyHolder,
  mergeClaims,
  mergeListPages,
  planClaim,
  sumCounts,
} from "../../packages/checkback/src/stores/redis/partition-merge.js";

// The merging of a partitioned queue's per-partition answers, without Redis.

const idOf = (partition: number, seq: number) => `${partition}-${seq}`;

function record(id: string, overrides: Partial<JobRecord> = {}): JobRecord {
  return {
    id,
    queue: "q",
    key: null,
    payload: "{}",
    priority: 0,
    state: "active",
    runAt: 0,
    attempts: 1,
    maxAttempts: 3,
    backoff: DEFAULT_BACKOFF,
    errors: [],
    result: null,
    createdAt: 0,
    updatedAt: 0,
    leaseToken: "t",
    leaseExpiresAt: 0,
    ...overrides,
  };
}

describe("claims across partitions", () => {
  it("decodes a peek reply into due entries", () => {
    expect(decodePeek(2, [1000, 5, [7, 5, 9, 6]])).toEqual({
      partition: 2,
      now: 1000,
      head: 5,
      due: [
        { partition: 2, seq: 7, score: 5 },
        { partition: 2, seq: 9, score: 6 },
      ],
    });
  });

  it("takes the earliest due entries queue-wide, ties by seq, and each partition's share of them", () => {
    const peeks = [
      decodePeek(0, [1000, 10, [1, 10, 4, 30, 6, 30]]),
      decodePeek(1, [1003, 20, [2, 20, 5, 30]]),
      decodePeek(2, [1001, null, []]),
    ];
    const plan = planClaim(peeks, 4);
    expect(plan.now).toBe(1003);
    expect(plan.chosen.map((e) => idOf(e.partition, e.seq))).toEqual(["0-1", "1-2", "0-4", "1-5"]);
    expect([...plan.shares]).toEqual([
      [0, 2],
      [1, 2],
    ]);
  });

  it("merges the claims in the plan's order, with the next due instant over claimed and unclaimed partitions", () => {
    const peeks = [
      decodePeek(0, [1000, 10, [1, 10, 3, 15]]),
      decodePeek(1, [1000, 12, [2, 12]]),
      decodePeek(2, [1000, 900, []]),
    ];
    const plan = planClaim(peeks, 3);
    const merged = mergeClaims(
      plan,
      peeks,
      [
        { jobs: [record("0-1"), record("0-3")], nextDueAt: 31_000, now: 1000 },
        { jobs: [record("1-2")], nextDueAt: null, now: 1000 },
      ],
      idOf,
    );
    expect(merged.jobs.map((j) => j.id)).toEqual(["0-1", "1-2", "0-3"]);
    expect(merged.nextDueAt).toBe(900); // partition 2's head: nothing was claimed there
    expect(merged.now).toBe(1000);
  });

  it("puts a job the plan did not foresee last, and reports no next due instant when none is known", () => {
    const peeks = [decodePeek(0, [5, null, [1, 1]]), decodePeek(1, [5, null, []])];
    const plan = planClaim(peeks, 10);
    const merged = mergeClaims(plan, peeks, [{ jobs: [record("0-8"), record("0-1")], nextDueAt: null, now: 5 }], idOf);
    expect(merged.jobs.map((j) => j.id)).toEqual(["0-1", "0-8"]);
    expect(merged.nextDueAt).toBeNull();
  });

  it("earliest ignores unknown instants", () => {
    expect(earliest([null, 7, 3, null])).toBe(3);
    expect(earliest([null])).toBeNull();
    expect(earliest([])).toBeNull();
  });
});

describe("list pages across partitions", () => {
  const page = (partition: number, more: boolean, positions: string[]) => ({
    partition,
    more,
    items: positions.map((position) => ({ job: `${partition}@${position}`, position })),
  });

  it("takes the oldest items queue-wide and records where each partition resumes", () => {
    const pages = [page(0, true, ["10:1", "30:4"]), page(1, false, ["20:2"]), page(2, false, [])];
    const { jobs, next } = mergeListPages(pages, [], 2);
    expect(jobs).toEqual(["0@10:1", "1@20:2"]);
    // Partition 0 resumes after its first item; 1 gave all it had; 2 is empty.
    expect(next).toEqual(["10:1", null, null]);
  });

  it("keeps the position of a partition nothing was taken from", () => {
    const pages = [page(0, false, ["10:1"]), page(1, true, ["50:9"])];
    const { jobs, next } = mergeListPages(pages, ["", "40:7"], 1);
    expect(jobs).toEqual(["0@10:1"]);
    expect(next).toEqual([null, "40:7"]);
  });

  it("orders by score, then seq, numerically", () => {
    const pages = [page(0, false, ["9:8", "100:3"]), page(1, false, ["9:10"])];
    expect(mergeListPages(pages, [], 10).jobs).toEqual(["0@9:8", "1@9:10", "0@100:3"]);
  });

  it("has no next page once every partition is exhausted", () => {
    const pages = [page(0, false, ["1:1"]), { partition: 1, more: false, items: [] }];
    expect(mergeListPages(pages, ["", null], 5)).toEqual({ jobs: ["0@1:1"], next: null });
  });
});

describe("counts, retention and keys across partitions", () => {
  const counts = (scheduled: number, dead: number): Record<JobState, number> => ({
    scheduled,
    active: 0,
    completed: 1,
    dead,
    cancelled: 0,
  });

  it("sums the partitions' counts per state", () => {
    expect(sumCounts([counts(2, 0), counts(3, 1)])).toEqual({
      scheduled: 5,
      active: 0,
      completed: 2,
      dead: 1,
      cancelled: 0,
    });
    expect(sumCounts([])).toEqual({ scheduled: 0, active: 0, completed: 0, dead: 0, cancelled: 0 });
  });

  it("finds the queue-wide keepLast-th newest finished entry", () => {
    // (score, seq) pairs, each partition's newest first.
    const tails = [
      [50, 5, 30, 3],
      [40, 4, 30, 6],
    ];
    expect(keepLastCut(tails, 1)).toEqual({ score: 50, seq: 5 });
    expect(keepLastCut(tails, 3)).toEqual({ score: 30, seq: 6 }); // ties: the higher seq is newer
    expect(keepLastCut(tails, 4)).toEqual({ score: 30, seq: 3 });
    expect(keepLastCut(tails, 5)).toBeNull();
    expect(keepLastCut(tails, 0)).toEqual({ score: Number.MAX_SAFE_INTEGER, seq: Number.MAX_SAFE_INTEGER });
  });

  it("prefers the unfinished holder of a key, else the newest finished job", () => {
    const done = record("0-1", { state: "completed", updatedAt: 5 });
    const newer = record("1-2", { state: "cancelled", updatedAt: 9 });
    const live = record("2-3", { state: "scheduled", updatedAt: 1 });
    expect(keyHolder([done, null, live, newer])).toBe(live);
    expect(keyHolder([done, newer, null])).toBe(newer);
    expect(keyHolder([null, null])).toBeNull();
  });
});
