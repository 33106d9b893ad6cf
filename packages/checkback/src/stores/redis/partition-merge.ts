import { isUnfinished, type JobRecord, type JobState } from "../../core/job.js";
import type { ClaimResult } from "../store.js";

/**
 * On a Redis Cluster a queue's jobs spread over partitions, each answered by its own script
 * call. This module turns those per-partition answers into the one answer the Store contract
 * promises for the whole queue: pure functions, no Redis (see redis-store.ts for the calls).
 */

/** A due entry a peek found: its partition, its queue-wide seq and its claim rank (its due instant when it has no priority, flow/priority.ts). */
export interface DueEntry {
  partition: number;
  seq: number;
  score: number;
}

/** What peek.lua found in one partition: its clock, its earliest due instant, its due entries. */
export interface PartitionPeek {
  partition: number;
  now: number;
  head: number | null;
  due: DueEntry[];
}

/** A peek reply, [now, head, flat (seq, score) pairs], as a PartitionPeek. */
export function decodePeek(partition: number, [now, head, flat]: [number, number | null, number[]]): PartitionPeek {
  const due: DueEntry[] = [];
  for (let i = 0; i < flat.length; i += 2) due.push({ partition, seq: flat[i]!, score: flat[i + 1]! });
  return { partition, now, head, due };
}

/** Which due entries a claim takes queue-wide, and how many of them each partition gives. */
export interface ClaimPlan {
  /** The latest of the partitions' clocks: every claim runs "as of" this instant. */
  now: number;
  /** The chosen entries, best claim rank first (ties by seq, which is queue-wide). */
  chosen: DueEntry[];
  /** Per partition, how many of the chosen entries it holds; partitions holding none are absent. */
  shares: Map<number, number>;
}

/** The best-ranked `limit` due entries across all peeks, so partitions are served fairly and in rank order. */
export function planClaim(peeks: PartitionPeek[], limit: number): ClaimPlan {
  let now = Number.NEGATIVE_INFINITY;
  for (const peek of peeks) now = Math.max(now, peek.now);
  const chosen = peeks
    .flatMap((peek) => peek.due)
    .sort((a, b) => a.score - b.score || a.seq - b.seq)
    .slice(0, limit);
  const shares = new Map<number, number>();
  for (const entry of chosen) shares.set(entry.partition, (shares.get(entry.partition) ?? 0) + 1);
  return { now, chosen, shares };
}

/**
 * The partitions' claims as one: jobs in the plan's order (a job the plan did not foresee goes
 * last), and the next due instant over the claimed partitions and the heads of the others.
 */
export function mergeClaims(
  plan: ClaimPlan,
  peeks: PartitionPeek[],
  claims: ClaimResult[],
  idOf: (partition: number, seq: number) => string,
): ClaimResult {
  const rank = new Map(plan.chosen.map((entry, i) => [idOf(entry.partition, entry.seq), i]));
  const last = plan.chosen.length;
  const jobs = claims
    .flatMap((claim) => claim.jobs)
    .sort((a, b) => (rank.get(a.id) ?? last) - (rank.get(b.id) ?? last));
  const heads = [
    ...claims.map((claim) => claim.nextDueAt),
    ...peeks.filter((peek) => !plan.shares.has(peek.partition)).map((peek) => peek.head),
  ];
  return { jobs, nextDueAt: earliest(heads), now: plan.now };
}

/** The earliest of some instants, null when none is known. */
export function earliest(instants: (number | null)[]): number | null {
  let min: number | null = null;
  for (const instant of instants) if (instant !== null && (min === null || instant < min)) min = instant;
  return min;
}

/** One partition's page of a list: its records with their positions ("<score>:<seq>"). */
export interface PartitionPage<T> {
  partition: number;
  /** Whether the partition holds more beyond these items. */
  more: boolean;
  items: { job: T; position: string }[];
}

/**
 * The partitions' pages as one page of `limit`, oldest first, and the position each partition
 * resumes from: its last taken item's, unchanged if none was taken from it, null once it is
 * exhausted. `next` is null when every partition is.
 */
export function mergeListPages<T>(
  pages: PartitionPage<T>[],
  positions: (string | null)[],
  limit: number,
): { jobs: T[]; next: (string | null)[] | null } {
  const merged = pages
    .flatMap((page) =>
      page.items.map((item) => {
        const [score, seq] = item.position.split(":").map(Number) as [number, number];
        return { ...item, partition: page.partition, score, seq };
      }),
    )
    .sort((a, b) => a.score - b.score || a.seq - b.seq);
  const taken = merged.slice(0, limit);
  const next: (string | null)[] = pages.map((page) => positions[page.partition] ?? "");
  const takenFrom = new Map<number, number>();
  for (const item of taken) {
    next[item.partition] = item.position;
    takenFrom.set(item.partition, (takenFrom.get(item.partition) ?? 0) + 1);
  }
  // A partition with nothing more beyond what was taken from it is done.
  for (const page of pages) {
    if (!page.more && (takenFrom.get(page.partition) ?? 0) === page.items.length) next[page.partition] = null;
  }
  return {
    jobs: taken.map((item) => item.job),
    next: next.some((position) => position !== null) ? next : null,
  };
}

/** The partitions' counts summed per state. */
export function sumCounts(parts: Record<JobState, number>[]): Record<JobState, number> {
  const total: Record<JobState, number> = { scheduled: 0, active: 0, completed: 0, dead: 0, cancelled: 0 };
  for (const part of parts) for (const state of Object.keys(total) as JobState[]) total[state] += part[state];
  return total;
}

/**
 * Retention's keepLast across partitions: given each partition's newest finished entries (tail.lua,
 * flat (score, seq) pairs, at least its newest `keepLast`), the queue-wide keepLast-th newest —
 * everything older goes. keepLast 0 keeps nothing (a cut above everything); null when the
 * partitions hold no more than keepLast, so nothing is cut.
 */
export function keepLastCut(tails: number[][], keepLast: number): { score: number; seq: number } | null {
  if (keepLast === 0) return { score: Number.MAX_SAFE_INTEGER, seq: Number.MAX_SAFE_INTEGER };
  const newest: { score: number; seq: number }[] = [];
  for (const flat of tails)
    for (let i = 0; i < flat.length; i += 2) newest.push({ score: flat[i]!, seq: flat[i + 1]! });
  newest.sort((a, b) => b.score - a.score || b.seq - a.seq);
  return newest[keepLast - 1] ?? null;
}

/**
 * getByKey across partitions: a follow-up job lives beside its parent, so a key may be held
 * outside its home partition. The unfinished holder if any, else the newest finished job.
 */
export function keyHolder(found: (JobRecord | null)[]): JobRecord | null {
  const candidates = found.filter((job): job is JobRecord => job !== null);
  return (
    candidates.find((job) => isUnfinished(job.state)) ?? candidates.sort((a, b) => b.updatedAt - a.updatedAt)[0] ?? null
  );
}
