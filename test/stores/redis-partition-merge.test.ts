import { describe, expect, it } from "vitest";
import { DEFAULT_BACKOFF } from "../../packages/checkback/src/core/backoff.js";
import type { JobRecord, JobState } from "../../packages/checkback/src/core/job.js";
import {
  busiestOf,
  cutPlan,
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
    group: null,
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

/** A peek reply: ungrouped turns as (seq, rank) pairs, or full (seq, value, klass, group) quadruples. */
const u = (seq: number, rank: number) => [seq, rank, 0, ""];
const g = (seq: number, value: number, klass: 1 | 2 | 3, group: string) => [seq, value, klass, group];
const peekOf = (partition: number, now: number, head: number | null, turns: (number | string)[][], flow = 0) =>
  decodePeek(partition, [now, head, turns.flat(), flow]);

describe("claims across partitions", () => {
  it("decodes a peek reply into turns", () => {
    expect(peekOf(2, 1000, 5, [u(7, 5), g(9, 6, 1, "m")], 1)).toEqual({
      partition: 2,
      now: 1000,
      head: 5,
      turns: [
        { partition: 2, seq: 7, value: 5, klass: 0, group: "" },
        { partition: 2, seq: 9, value: 6, klass: 1, group: "m" },
      ],
      flow: true,
    });
  });

  it("takes the earliest due entries queue-wide, ties by seq, and each partition's share of them", () => {
    const peeks = [
      peekOf(0, 1000, 10, [u(1, 10), u(4, 30), u(6, 30)]),
      peekOf(1, 1003, 20, [u(2, 20), u(5, 30)]),
      peekOf(2, 1001, null, []),
    ];
    const plan = planClaim(peeks, 4);
    expect(plan.now).toBe(1003);
    expect(plan.chosen.map((e) => idOf(e.partition, e.seq))).toEqual(["0-1", "1-2", "0-4", "1-5"]);
    expect([...plan.shares]).toEqual([
      [0, 2],
      [1, 2],
    ]);
  });

  it("merges groups' turns across partitions as one claim takes them: ungrouped first, then by name, then in the order served", () => {
    // a and c live in partition 0, b in partition 1; all ready at 100, claimed at 500; one
    // ungrouped job ranks 100 too. Further turns (klass 3) come at the claim's instant.
    const peeks = [
      peekOf(0, 500, 100, [g(1, 100, 1, "a"), g(3, 100, 1, "c"), g(2, 500, 3, "a"), g(4, 500, 3, "c")]),
      peekOf(1, 500, 100, [u(9, 100), g(5, 100, 1, "b"), g(6, 500, 3, "b"), g(7, 500, 3, "b")]),
    ];
    const plan = planClaim(peeks, 8);
    expect(plan.chosen.map((t) => (t.group || "-") + t.seq)).toEqual(["-9", "a1", "b5", "c3", "a2", "b6", "c4", "b7"]);
    // Each partition's share is a prefix of its own turns.
    expect([...plan.shares]).toEqual([
      [1, 4],
      [0, 4],
    ]);
    const cut = cutPlan(plan, 3);
    expect(cut.chosen.map((t) => t.seq)).toEqual([9, 1, 5]);
    expect([...cut.shares]).toEqual([
      [1, 2],
      [0, 1],
    ]);
    expect(cutPlan(plan, 20)).toBe(plan);
  });

  it("serves further turns in the order their groups were served, whatever each partition's clock", () => {
    // Partition 1's clock is a millisecond behind: its further turn still waits for a's.
    const peeks = [
      peekOf(0, 501, 100, [g(1, 100, 1, "a"), g(2, 501, 3, "a")]),
      peekOf(1, 500, 100, [g(5, 100, 1, "b"), g(6, 500, 3, "b")]),
    ];
    expect(planClaim(peeks, 4).chosen.map((t) => t.group + t.seq)).toEqual(["a1", "b5", "a2", "b6"]);
  });

  it("puts groups ready again at the instant they were served behind the others of that instant, in serve order", () => {
    // At 100: z's head came due then; y and then x were served at 100 (their scores' fractions).
    const peeks = [
      peekOf(0, 500, 100, [g(1, 100 + 2 / 2048, 2, "x")]),
      peekOf(1, 500, 100, [g(3, 100, 1, "z"), g(2, 100 + 1 / 2048, 2, "y")]),
    ];
    expect(planClaim(peeks, 3).chosen.map((t) => t.group)).toEqual(["z", "y", "x"]);
  });

  it("orders groups' names as Redis does, by bytes", () => {
    // "\u{1F600}" is a surrogate pair in UTF-16 (0xD83D…), before "\uFB01"; in UTF-8 (0xF0…, 0xEF…)
    // it comes after, and a sorted set orders members by their bytes.
    const peeks = [peekOf(0, 10, 1, [g(1, 1, 1, "\u{1F600}")]), peekOf(1, 10, 1, [g(2, 1, 1, "\uFB01")])];
    expect(planClaim(peeks, 2).chosen.map((t) => t.seq)).toEqual([2, 1]);
  });

  it("merges the claims in the plan's order, with the next due instant over claimed and unclaimed partitions", () => {
    const peeks = [
      peekOf(0, 1000, 10, [u(1, 10), u(3, 15)]),
      peekOf(1, 1000, 12, [u(2, 12)]),
      peekOf(2, 1000, 900, []),
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
    const peeks = [peekOf(0, 5, null, [u(1, 1)]), peekOf(1, 5, null, [])];
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

describe("busiest groups across partitions", () => {
  const state = (group: string, active: number) => ({
    group,
    limits: { concurrency: null, limit: null },
    ownLimits: false,
    active,
    scheduled: 0,
    pausedUntil: null,
    tokens: null,
  });

  it("takes the most active queue-wide, ties by name, and sums the active groups", () => {
    const merged = busiestOf(
      [
        { activeGroups: 5, groups: [state("x", 4), state("b", 2)] },
        { activeGroups: 2, groups: [state("a", 2), state("c", 1)] },
      ],
      3,
    );
    expect(merged.groups.map((s) => [s.group, s.active])).toEqual([
      ["x", 4],
      ["a", 2],
      ["b", 2],
    ]);
    expect(merged.activeGroups).toBe(7);
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
