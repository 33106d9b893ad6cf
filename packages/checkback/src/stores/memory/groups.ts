import { MinHeap } from "../../core/heap.js";
import type { JobState } from "../../core/job.js";
import { type GroupLimits, type GroupState, groupReadyAt } from "../../flow/groups.js";
import { type Bucket, charge, type RateLimit, refill, withLimit, withPause } from "../../flow/rate-limit.js";
import { type DueEntry, dueHeap } from "./due-entry.js";

/**
 * The groups of one queue in the memory store: the reference implementation of the rule in
 * flow/groups.ts.
 *
 * Each group keeps its scheduled jobs in a heap of its own, by (runAt, insertion); the groups
 * with a readyAt wait in one ready heap by (readyAt, turn, name), where `turn` puts a group
 * served at an instant behind the groups already waiting at it (rule 3). Both heaps delete
 * lazily: an entry whose version is old is dropped when it surfaces. A claim costs O(log n) per
 * job, whatever the number of groups.
 *
 * A group that holds no unfinished job is forgotten as soon as nothing of it is worth keeping
 * (no own limits, no pause, a full bucket); one waiting only for its bucket to refill or its
 * pause to end is forgotten by the first sweep after that instant (`sweep`, run by each claim).
 */
interface Group {
  name: string;
  /** The group's scheduled jobs by (runAt, insertion). */
  waiting: MinHeap<DueEntry>;
  scheduled: number;
  active: number;
  /** The instant a claim last started one of its jobs (rule 2), and that start's place in turn. */
  servedAt: number | null;
  servedTurn: number;
  own: GroupLimits | null;
  /** The group's rate limit (the limit in force) and pause; null when it has neither. */
  bucket: Bucket | null;
  /** The group's entry in the ready heap: readyAt (null: not ready) and its tie-break. */
  readyAt: number | null;
  readyTurn: number;
  /** Bumped when the ready entry is replaced or the group forgotten: older entries are stale. */
  version: number;
  idleVersion: number;
}

interface ReadyEntry {
  readyAt: number;
  /** 0, or the serve order when the group was served at readyAt: it goes behind those already waiting. */
  turn: number;
  name: string;
  version: number;
}

interface IdleEntry {
  /** When the group has nothing worth keeping any more (bucket full, pause over). */
  at: number;
  name: string;
  version: number;
}

const NO_LIMITS: GroupLimits = { concurrency: null, limit: null };

export class QueueGroups {
  /** The queue's default limits for every group without its own; null when none. */
  private defaults: GroupLimits | null = null;
  private readonly groups = new Map<string, Group>();
  private readonly ready = new MinHeap<ReadyEntry>(readyFirst);
  private readonly idle = new MinHeap<IdleEntry>((a, b) => a.at < b.at);
  /** Groups with an active job (busiestGroups reads these, never every group). */
  private readonly busy = new Set<Group>();
  private turns = 0;

  /** `isWaiting(entry)`: the entry is still its job's place, and the job is scheduled. */
  constructor(private readonly isWaiting: (entry: DueEntry) => boolean) {}

  get defaultLimits(): GroupLimits | null {
    return this.defaults;
  }

  /** How many groups are kept (those with unfinished jobs or flow state worth keeping). */
  get size(): number {
    return this.groups.size;
  }

  /**
   * A job of `group` went from `from` (null: it is new) to `to`; `entry` is its new place when
   * it waits (scheduled). Rule 6: the group is recomputed. Returns the group's readyAt when it
   * came sooner (sleeping workers must wake for it), else null.
   */
  moved(group: string, from: JobState | null, to: JobState, entry: DueEntry | null, now: number): number | null {
    const g = this.group(group);
    if (from === "scheduled") g.scheduled -= 1;
    if (from === "active") this.setActive(g, g.active - 1);
    if (to === "scheduled") g.scheduled += 1;
    if (entry) g.waiting.push(entry);
    return this.recompute(g, now);
  }

  /** The readyAt of the group first in turn, null when no group is ready. */
  nextReadyAt(): number | null {
    return this.first()?.readyAt ?? null;
  }

  /**
   * Rule 3: starts the head job of the group first in turn (its readyAt ≤ now, checked by the
   * caller): counts it active, charges the group's bucket, and puts the group back in turn.
   * Returns the job's id.
   */
  take(now: number): string {
    const g = this.first()!;
    const head = this.head(g)!;
    g.waiting.pop();
    g.scheduled -= 1;
    this.setActive(g, g.active + 1);
    g.servedAt = now;
    g.servedTurn = ++this.turns;
    if (g.bucket) g.bucket = charge(g.bucket, now, 1);
    this.recompute(g, now);
    return head.id;
  }

  /**
   * Sets one group's own limits, or the queue's default (`group` null); null lifts them.
   * Returns the earliest readyAt that came sooner, else null.
   */
  setLimits(group: string | null, limits: GroupLimits | null, now: number): number | null {
    if (group !== null) {
      const g = this.group(group);
      g.own = limits;
      return this.recompute(g, now);
    }
    this.defaults = limits;
    let wake: number | null = null;
    for (const g of [...this.groups.values()]) {
      const at = this.recompute(g, now);
      if (at !== null && (wake === null || at < wake)) wake = at;
    }
    return wake;
  }

  /** Pauses a group until `until` (null resumes it). Returns its readyAt if it came sooner. */
  pause(group: string, until: number | null, now: number): number | null {
    const g = this.group(group);
    this.syncBucket(g, now);
    g.bucket = withPause(g.bucket, until, now);
    return this.recompute(g, now);
  }

  state(group: string, now: number): GroupState {
    const g = this.groups.get(group);
    const own = g?.own ?? null;
    const limits = own ?? this.defaults ?? NO_LIMITS;
    const bucket = this.bucketOf(g ?? null, limits.limit, now);
    const pausedUntil = bucket?.pausedUntil ?? null;
    return {
      group,
      limits: { concurrency: limits.concurrency, limit: limits.limit && { ...limits.limit } },
      ownLimits: own !== null,
      active: g?.active ?? 0,
      scheduled: g?.scheduled ?? 0,
      pausedUntil: pausedUntil !== null && pausedUntil > now ? pausedUntil : null,
      tokens: bucket?.limit ? Math.floor(refill(bucket, now)) : null,
    };
  }

  busiest(limit: number, now: number): { groups: GroupState[]; activeGroups: number } {
    const busiest = [...this.busy].sort((a, b) => b.active - a.active || compareNames(a.name, b.name));
    return { groups: busiest.slice(0, limit).map((g) => this.state(g.name, now)), activeGroups: this.busy.size };
  }

  /** Forgets the idle groups whose bucket has refilled and whose pause has ended by `now`. */
  sweep(now: number): void {
    for (let top = this.idle.peek(); top && top.at <= now; top = this.idle.peek()) {
      this.idle.pop();
      const g = this.groups.get(top.name);
      // A group that got a job again since it went idle is not idle any more.
      if (g && g.idleVersion === top.version && g.scheduled === 0 && g.active === 0) this.retire(g, now);
    }
  }

  // --- internals -------------------------------------------------------------------------

  private group(name: string): Group {
    let g = this.groups.get(name);
    if (!g) {
      g = {
        name,
        waiting: dueHeap(),
        scheduled: 0,
        active: 0,
        servedAt: null,
        servedTurn: 0,
        own: null,
        bucket: null,
        readyAt: null,
        readyTurn: 0,
        version: 0,
        idleVersion: 0,
      };
      this.groups.set(name, g);
    }
    return g;
  }

  /** The live group first in turn, dropping stale entries on the way. */
  private first(): Group | undefined {
    for (let top = this.ready.peek(); top; top = this.ready.peek()) {
      const g = this.groups.get(top.name);
      if (g && g.version === top.version) return g;
      this.ready.pop();
    }
    return undefined;
  }

  /** The group's earliest scheduled job, dropping stale entries on the way. */
  private head(g: Group): DueEntry | undefined {
    for (let top = g.waiting.peek(); top; top = g.waiting.peek()) {
      if (this.isWaiting(top)) return top;
      g.waiting.pop();
    }
    return undefined;
  }

  /** Rule 2: the group's readyAt, its place in the ready heap, and whether it can be forgotten. */
  private recompute(g: Group, now: number): number | null {
    this.syncBucket(g, now);
    const readyAt = groupReadyAt({
      headRunAt: this.head(g)?.dueAt ?? null,
      servedAt: g.servedAt,
      active: g.active,
      concurrency: (g.own ?? this.defaults)?.concurrency ?? null,
      bucket: g.bucket,
    });
    const turn = readyAt !== null && readyAt === g.servedAt ? g.servedTurn : 0;
    const before = g.readyAt;
    if (readyAt !== before || turn !== g.readyTurn) {
      g.version += 1;
      g.readyAt = readyAt;
      g.readyTurn = turn;
      if (readyAt !== null) this.ready.push({ readyAt, turn, name: g.name, version: g.version });
    }
    if (g.scheduled === 0 && g.active === 0) this.retire(g, now);
    return readyAt !== null && (before === null || readyAt < before) ? readyAt : null;
  }

  /** A group without unfinished jobs: forgotten now, or once its bucket is full and its pause over. */
  private retire(g: Group, now: number): void {
    if (g.own !== null) return;
    const at = keptUntil(g.bucket);
    if (at <= now) {
      this.groups.delete(g.name);
      g.version += 1;
      this.busy.delete(g);
      return;
    }
    g.idleVersion += 1;
    this.idle.push({ at, name: g.name, version: g.idleVersion });
  }

  /** The bucket carries the limit in force (own or default): a change of either reaches it here. */
  private syncBucket(g: Group, now: number): void {
    const limit = (g.own ?? this.defaults)?.limit ?? null;
    if (!sameLimit(g.bucket?.limit ?? null, limit)) g.bucket = withLimit(g.bucket, limit, now);
  }

  /** The group's bucket as it would be with `limit` (full when the group has none yet), without keeping it. */
  private bucketOf(g: Group | null, limit: RateLimit | null, now: number): Bucket | null {
    const bucket = g?.bucket ?? null;
    return sameLimit(bucket?.limit ?? null, limit) ? bucket : withLimit(bucket, limit, now);
  }

  private setActive(g: Group, active: number): void {
    g.active = active;
    if (active > 0) this.busy.add(g);
    else this.busy.delete(g);
  }
}

function readyFirst(a: ReadyEntry, b: ReadyEntry): boolean {
  if (a.readyAt !== b.readyAt) return a.readyAt < b.readyAt;
  if (a.turn !== b.turn) return a.turn < b.turn;
  return a.name < b.name;
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sameLimit(a: RateLimit | null, b: RateLimit | null): boolean {
  return a === b || (a !== null && b !== null && a.rate === b.rate && a.perMs === b.perMs);
}

/** The instant a bucket holds nothing worth keeping: its pause over and its tokens back to full. */
function keptUntil(bucket: Bucket | null): number {
  if (!bucket) return Number.NEGATIVE_INFINITY;
  let at = bucket.pausedUntil ?? Number.NEGATIVE_INFINITY;
  if (bucket.limit) {
    const { rate, perMs } = bucket.limit;
    const full = bucket.refilledAt + Math.ceil(((rate - bucket.tokens) * perMs) / rate);
    if (full > at) at = full;
  }
  return at;
}
