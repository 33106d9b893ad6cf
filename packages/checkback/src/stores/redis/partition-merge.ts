import { isUnfinished, type JobRecord, type JobState } from "../../core/job.js";
import type { GroupState } from "../../flow/groups.js";
import type { ClaimResult } from "../store.js";

/**
 * On a Redis Cluster a queue's jobs spread over partitions, each answered by its own script
 * call. This module turns those per-partition answers into the one answer the Store contract
 * promises for the whole queue: pure functions, no Redis (see redis-store.ts for the calls).
 */

/**
 * A turn a peek found: one job a claim of that partition would start (include/turns.lua), with
 * the numbers a single claim orders turns by. `value` is an ungrouped job's claim rank (its due
 * instant when it has no priority, flow/priority.ts) or a group's score in its ready set (its
 * readyAt, with its serve order as a fraction when it was served at that very instant); `klass`
 * 0 for an ungrouped job, 1 for a group's first turn in the claim, 2 the same for a group ready
 * again at the instant it was served, 3 for a further turn in the claim; `group` "" for none.
 */
export interface Turn {
  partition: number;
  seq: number;
  value: number;
  klass: number;
  group: string;
}

/** What peek.lua found in one partition: its clock, its earliest due instant, its turns, and whether the queue has a bucket. */
export interface PartitionPeek {
  partition: number;
  now: number;
  head: number | null;
  turns: Turn[];
  flow: boolean;
}

/** A peek reply, [now, head, flat (seq, value, klass, group) quadruples, flow], as a PartitionPeek. */
export function decodePeek(
  partition: number,
  [now, head, flat, flow]: [number, number | null, (number | string)[], number?],
): PartitionPeek {
  const turns: Turn[] = [];
  for (let i = 0; i < flat.length; i += 4) {
    turns.push({
      partition,
      seq: Number(flat[i]),
      value: Number(flat[i + 1]),
      klass: Number(flat[i + 2]),
      group: String(flat[i + 3]),
    });
  }
  return { partition, now, head, turns, flow: flow === 1 };
}

/** Which turns a claim takes queue-wide, and how many of them each partition gives. */
export interface ClaimPlan {
  /** The latest of the partitions' clocks: every claim runs "as of" this instant. */
  now: number;
  /** The chosen turns, in claim order. */
  chosen: Turn[];
  /** Per partition, how many of the chosen turns it holds; partitions holding none are absent. */
  shares: Map<number, number>;
}

/**
 * The first `limit` turns queue-wide, in the order one claim over every partition would take
 * them (flow/groups.ts rule 3): by instant; at one instant ungrouped jobs first (by seq, which
 * is queue-wide), then groups' first turns by name (in bytes, as a sorted set orders them),
 * then those of groups ready again at the instant they were served (in serve order), then
 * further turns in the order their groups were last served. Each partition's turns come in its
 * own order, and a merge of those lists (never a re-sort) keeps it, so each partition's share is
 * exactly the first turns its own claim will take. A further turn counts at the claim's instant
 * (the latest of the partitions' clocks), whichever partition's clock valued it.
 */
export function planClaim(peeks: PartitionPeek[], limit: number): ClaimPlan {
  let now = Number.NEGATIVE_INFINITY;
  for (const peek of peeks) now = Math.max(now, peek.now);
  const next = peeks.map(() => 0);
  /** Per group, the position in `chosen` of its latest turn. */
  const lastServed = new Map<string, number>();
  const chosen: Turn[] = [];
  // A further turn is valued at its partition's clock, and partitions' clocks differ by a few
  // ms: they all stand for the one instant this claim runs at.
  const instantOf = (turn: Turn) => (turn.klass === 3 ? now : Math.floor(turn.value));
  const byName = (a: Turn, b: Turn) => Buffer.compare(Buffer.from(a.group), Buffer.from(b.group));
  const before = (a: Turn, b: Turn): boolean => {
    const ia = instantOf(a);
    const ib = instantOf(b);
    if (ia !== ib) return ia < ib;
    if (a.klass !== b.klass) return a.klass < b.klass;
    if (a.klass === 0 && a.seq !== b.seq) return a.seq < b.seq;
    if (a.klass === 2 && a.value !== b.value) return a.value < b.value;
    if ((a.klass === 1 || a.klass === 2) && a.group !== b.group) return byName(a, b) < 0;
    if (a.klass === 3) {
      const servedA = lastServed.get(a.group) ?? -1;
      const servedB = lastServed.get(b.group) ?? -1;
      if (servedA !== servedB) return servedA < servedB;
    }
    return a.partition < b.partition;
  };
  while (chosen.length < limit) {
    let best = -1;
    peeks.forEach((peek, p) => {
      const turn = peek.turns[next[p]!];
      if (turn && (best < 0 || before(turn, peeks[best]!.turns[next[best]!]!))) best = p;
    });
    if (best < 0) break;
    const turn = peeks[best]!.turns[next[best]!]!;
    next[best]! += 1;
    if (turn.klass > 0) lastServed.set(turn.group, chosen.length);
    chosen.push(turn);
  }
  return { now, chosen, shares: sharesOf(chosen) };
}

/** The plan cut to its first `count` turns: what a claim does when the queue's bucket grants fewer. */
export function cutPlan(plan: ClaimPlan, count: number): ClaimPlan {
  if (count >= plan.chosen.length) return plan;
  const chosen = plan.chosen.slice(0, Math.max(0, count));
  return { now: plan.now, chosen, shares: sharesOf(chosen) };
}

function sharesOf(chosen: Turn[]): Map<number, number> {
  const shares = new Map<number, number>();
  for (const turn of chosen) shares.set(turn.partition, (shares.get(turn.partition) ?? 0) + 1);
  return shares;
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

/**
 * busiestGroups across partitions: every group lives in one partition, so the queue's busiest
 * are among each partition's busiest; most active first, ties by name (in bytes, as a sorted
 * set orders them), and the active groups summed.
 */
export function busiestOf(
  parts: { activeGroups: number; groups: GroupState[] }[],
  limit: number,
): { groups: GroupState[]; activeGroups: number } {
  if (parts.length === 1) return parts[0]!;
  const groups = parts
    .flatMap((part) => part.groups)
    .sort((a, b) => b.active - a.active || Buffer.compare(Buffer.from(a.group), Buffer.from(b.group)))
    .slice(0, limit);
  return { groups, activeGroups: parts.reduce((sum, part) => sum + part.activeGroups, 0) };
}
