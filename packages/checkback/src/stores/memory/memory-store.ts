import { LeaseLostError, StoreClosedError } from "../../core/errors.js";
import type { MinHeap } from "../../core/heap.js";
import { isUnfinished, JOB_STATES, type JobRecord, type JobRef, type JobState } from "../../core/job.js";
import { newLeaseToken } from "../../core/token.js";
import type { GroupLimits, GroupState } from "../../flow/groups.js";
import { claimRank } from "../../flow/priority.js";
import {
  allowedStarts,
  type Bucket,
  charge,
  type FlowSettings,
  flowSettings,
  limitedNextDue,
  type RateLimit,
  withLimit,
  withPause,
} from "../../flow/rate-limit.js";
import { checkFollowUps } from "../follow-ups.js";
import { decodeListCursor, encodeListCursor, isIntegerPosition } from "../list-cursor.js";
import { createdRecord, resolveWhen } from "../new-job.js";
import type {
  AddOutcome,
  ChangeOutcome,
  ClaimOptions,
  ClaimResult,
  Completion,
  Failure,
  FinishedState,
  NewJob,
  Page,
  PageRequest,
  Release,
  Retention,
  Selection,
  Store,
  When,
} from "../store.js";
import { dueHeap, type DueEntry as Entry } from "./due-entry.js";
import { QueueGroups } from "./groups.js";

/**
 * The memory store: a due heap per queue with lazy deletion. Each job carries a `dueVersion`
 * that changes whenever its due instant or state changes; heap entries with an old version are
 * skipped when they surface. Everything is O(log n) and nothing survives the process: for tests
 * and ephemeral use. A job with a priority other than 0 waits in its level's own heap; a claim
 * merges the level heads by claim rank (flow/priority.ts). A grouped job waits in its group
 * (groups.ts, the reference of the rule in flow/groups.ts) and, once started, holds its lease in
 * the ordinary due heap like any other.
 */
interface Slot {
  job: JobRecord;
  seq: number;
  dueVersion: number;
}

interface QueueState {
  /** Priority-0 jobs (and every job when no priority is used). */
  due: MinHeap<Entry>;
  /** One due heap per other priority level in use (flow/priority.ts); empty ones are dropped. */
  levels: Map<number, MinHeap<Entry>>;
  jobs: Map<string, Slot>;
  keys: Map<string, string>;
  groups: QueueGroups;
}

export interface MemoryStoreOptions {
  /** The store's clock; tests may inject one. */
  clock?: () => number;
}

export class MemoryStore implements Store {
  readonly kind = "memory";
  private readonly queuesByName = new Map<string, QueueState>();
  /** Rate limits and pauses per queue (flow/rate-limit.ts); a queue without one is absent. */
  private readonly buckets = new Map<string, Bucket>();
  /** Wake-up subscribers per queue (a plain map: any queue name, even "error", is safe). */
  private readonly subscribers = new Map<string, Set<(runAt: number) => void>>();
  private readonly clock: () => number;
  private nextId = 1;
  private nextSeq = 1;
  private closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    this.clock = options.clock ?? Date.now;
  }

  async now(): Promise<number> {
    this.ensureOpen();
    return this.clock();
  }

  async add(jobs: NewJob[]): Promise<AddOutcome[]> {
    this.ensureOpen();
    // Nothing below can throw after validation in the queue layer, so applying in order is
    // all-or-nothing; keys are checked against jobs earlier in the same batch too.
    const now = this.clock();
    const woken = new Map<string, number>();
    const outcomes = jobs.map((input) => this.addOne(input, now, woken));
    for (const [queue, runAt] of woken) this.wake(queue, runAt);
    return outcomes;
  }

  private addOne(input: NewJob, now: number, woken: Map<string, number>): AddOutcome {
    const q = this.queue(input.queue);
    const runAt = resolveWhen(input.when, now);
    const holderId = input.key === null ? undefined : q.keys.get(input.key);
    const holder = holderId === undefined ? undefined : q.jobs.get(holderId);
    if (holder && isUnfinished(holder.job.state)) {
      if (input.onDuplicate !== "replace" || holder.job.state !== "scheduled") {
        return { job: copy(holder.job), outcome: "existing" };
      }
      Object.assign(holder.job, {
        payload: input.payload,
        runAt,
        maxAttempts: input.maxAttempts,
        backoff: input.backoff,
        updatedAt: now,
      });
      noteWake(woken, input.queue, this.index(q, holder, runAt, "scheduled", now));
      return { job: copy(holder.job), outcome: "replaced" };
    }
    const job = createdRecord(input, String(this.nextId++), runAt, now);
    const slot: Slot = { job, seq: this.nextSeq++, dueVersion: 0 };
    q.jobs.set(job.id, slot);
    if (job.key !== null) q.keys.set(job.key, job.id);
    noteWake(woken, input.queue, this.index(q, slot, runAt, null, now));
    return { job: copy(job), outcome: "created" };
  }

  async get(queue: string, id: string): Promise<JobRecord | null> {
    this.ensureOpen();
    const slot = this.queuesByName.get(queue)?.jobs.get(id);
    return slot ? copy(slot.job) : null;
  }

  async getByKey(queue: string, key: string): Promise<JobRecord | null> {
    this.ensureOpen();
    const q = this.queuesByName.get(queue);
    const id = q?.keys.get(key);
    return id === undefined ? null : this.get(queue, id);
  }

  async cancel(queue: string, ref: JobRef): Promise<ChangeOutcome> {
    this.ensureOpen();
    const q = this.queuesByName.get(queue);
    const slot = q && this.find(q, ref);
    if (!q || !slot) return { job: null, changed: false };
    const { job } = slot;
    if (!isUnfinished(job.state)) return { job: copy(job), changed: false };
    this.finish(q, slot, "cancelled");
    return { job: copy(job), changed: true };
  }

  async reschedule(queue: string, ref: JobRef, when: When): Promise<ChangeOutcome> {
    this.ensureOpen();
    const q = this.queuesByName.get(queue);
    const slot = q && this.find(q, ref);
    if (!q || !slot) return { job: null, changed: false };
    if (slot.job.state !== "scheduled") return { job: copy(slot.job), changed: false };
    const now = this.clock();
    slot.job.runAt = resolveWhen(when, now);
    slot.job.updatedAt = now;
    this.wakeAt(queue, this.index(q, slot, slot.job.runAt, "scheduled", now));
    return { job: copy(slot.job), changed: true };
  }

  async claimDue(queue: string, { limit, leaseMs }: ClaimOptions): Promise<ClaimResult> {
    this.ensureOpen();
    const now = this.clock();
    const q = this.queuesByName.get(queue);
    const jobs: JobRecord[] = [];
    if (!q) return { jobs, nextDueAt: null, now };
    const bucket = this.buckets.get(queue);
    const allowed = bucket ? allowedStarts(bucket, now, limit) : limit;
    q.groups.sweep(now);
    while (jobs.length < allowed) {
      // Rule 3 of flow/groups.ts: ungrouped due entries by claim rank and ready groups by
      // readyAt, merged by that one number (ties: ungrouped first).
      const entry = q.levels.size === 0 ? this.dueHead(q, now) : this.rankedHead(q, now);
      const readyAt = q.groups.nextReadyAt();
      if (
        readyAt !== null &&
        readyAt <= now &&
        (!entry || readyAt < claimRank(entry.dueAt, q.jobs.get(entry.id)!.job.priority))
      ) {
        jobs.push(this.start(q, q.jobs.get(q.groups.take(now))!, now, leaseMs));
        continue;
      }
      if (!entry) break;
      this.heapOf(q, q.jobs.get(entry.id)!.job.priority).pop();
      const slot = q.jobs.get(entry.id)!;
      const { job } = slot;
      if (job.state === "active") {
        // The previous holder's lease ran out: that attempt counts as failed. A grouped job
        // keeps counting in its group's active jobs and is not charged to its bucket (rule 5).
        job.errors.push({ attempt: job.attempts, at: now, message: "lease expired" });
        if (job.attempts >= job.maxAttempts) {
          this.finish(q, slot, "dead");
          continue;
        }
      }
      jobs.push(this.start(q, slot, now, leaseMs));
    }
    if (!bucket) return { jobs, nextDueAt: this.nextDue(q), now };
    const charged = charge(bucket, now, jobs.length);
    this.buckets.set(queue, charged);
    return { jobs, nextDueAt: limitedNextDue(this.nextDue(q), charged, now), now };
  }

  async setRateLimit(queue: string, limit: RateLimit | null): Promise<void> {
    this.ensureOpen();
    this.keepBucket(queue, withLimit(this.buckets.get(queue) ?? null, limit, this.clock()));
  }

  async pauseQueue(queue: string, until: When | null): Promise<void> {
    this.ensureOpen();
    const now = this.clock();
    this.keepBucket(queue, withPause(this.buckets.get(queue) ?? null, until && resolveWhen(until, now), now));
  }

  async flowSettings(queue: string): Promise<FlowSettings> {
    this.ensureOpen();
    const groupLimits = this.queuesByName.get(queue)?.groups.defaultLimits ?? null;
    return flowSettings(this.buckets.get(queue) ?? null, this.clock(), groupLimits);
  }

  async setGroupLimits(queue: string, group: string | null, limits: GroupLimits | null): Promise<void> {
    this.ensureOpen();
    this.wakeAt(queue, this.queue(queue).groups.setLimits(group, limits, this.clock()));
  }

  async pauseGroup(queue: string, group: string, until: When | null): Promise<void> {
    this.ensureOpen();
    const now = this.clock();
    this.wakeAt(queue, this.queue(queue).groups.pause(group, until && resolveWhen(until, now), now));
  }

  async groupState(queue: string, group: string): Promise<GroupState> {
    this.ensureOpen();
    return this.groupsOf(queue).state(group, this.clock());
  }

  async busiestGroups(queue: string, limit: number): Promise<{ groups: GroupState[]; activeGroups: number }> {
    this.ensureOpen();
    return this.groupsOf(queue).busiest(limit, this.clock());
  }

  private keepBucket(queue: string, bucket: Bucket | null): void {
    if (bucket) this.buckets.set(queue, bucket);
    else this.buckets.delete(queue);
  }

  async extendLease(queue: string, id: string, leaseToken: string, leaseMs: number): Promise<number> {
    this.ensureOpen();
    const { q, slot } = this.held(queue, id, leaseToken);
    const now = this.clock();
    slot.job.leaseExpiresAt = now + leaseMs;
    slot.job.updatedAt = now;
    this.index(q, slot, slot.job.leaseExpiresAt, "active", now);
    return slot.job.leaseExpiresAt;
  }

  async complete(queue: string, id: string, leaseToken: string, completion: Completion): Promise<void> {
    this.ensureOpen();
    checkFollowUps(queue, completion);
    const { q, slot } = this.held(queue, id, leaseToken);
    this.completeWith(q, slot, completion);
  }

  async settle(queue: string, ref: JobRef, completion: Completion): Promise<ChangeOutcome> {
    this.ensureOpen();
    checkFollowUps(queue, completion);
    const q = this.queuesByName.get(queue);
    const slot = q && this.find(q, ref);
    if (!q || !slot) return { job: null, changed: false };
    if (!isUnfinished(slot.job.state)) return { job: copy(slot.job), changed: false };
    this.completeWith(q, slot, completion);
    return { job: copy(slot.job), changed: true };
  }

  private completeWith(q: QueueState, slot: Slot, { result, enqueue }: Completion): void {
    slot.job.result = result;
    this.finish(q, slot, "completed");
    if (enqueue && enqueue.length > 0) {
      const woken = new Map<string, number>();
      const now = this.clock();
      for (const input of enqueue) this.addOne(input, now, woken);
      for (const [name, runAt] of woken) this.wake(name, runAt);
    }
  }

  async fail(queue: string, id: string, leaseToken: string, failure: Failure): Promise<JobRecord> {
    this.ensureOpen();
    const { q, slot } = this.held(queue, id, leaseToken);
    const { job } = slot;
    const now = this.clock();
    job.errors.push({ attempt: job.attempts, at: now, message: failure.error });
    if (failure.retryDelayMs === null) {
      this.finish(q, slot, "dead");
    } else {
      this.scheduleAgain(q, slot, now + failure.retryDelayMs, now);
    }
    return copy(job);
  }

  async release(queue: string, id: string, leaseToken: string, { delayMs, payload }: Release): Promise<void> {
    this.ensureOpen();
    const { q, slot } = this.held(queue, id, leaseToken);
    const now = this.clock();
    slot.job.attempts -= 1;
    if (payload !== undefined) slot.job.payload = payload;
    this.scheduleAgain(q, slot, now + delayMs, now);
  }

  async list(queue: string, state: JobState, { limit, cursor }: PageRequest): Promise<Page> {
    this.ensureOpen();
    // Insertion order (seq) is the page order; the cursor holds the last seq returned.
    const after = Number(decodeListCursor(cursor, queue, state, isIntegerPosition) ?? 0);
    const q = this.queuesByName.get(queue);
    if (!q) return { jobs: [], next: null };
    const page: Slot[] = [];
    for (const slot of q.jobs.values()) {
      if (slot.seq > after && slot.job.state === state) {
        page.push(slot);
        if (page.length > limit) break;
      }
    }
    const more = page.length > limit;
    const jobs = page.slice(0, limit);
    return {
      jobs: jobs.map((s) => copy(s.job)),
      next: more ? encodeListCursor(queue, state, String(jobs.at(-1)!.seq)) : null,
    };
  }

  async counts(queue: string): Promise<Record<JobState, number>> {
    this.ensureOpen();
    const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
    for (const slot of this.queuesByName.get(queue)?.jobs.values() ?? []) counts[slot.job.state] += 1;
    return counts;
  }

  async queues(): Promise<string[]> {
    this.ensureOpen();
    return [...this.queuesByName.entries()].filter(([, q]) => q.jobs.size > 0).map(([name]) => name);
  }

  async redrive(queue: string, selection: Selection, when: When): Promise<number> {
    this.ensureOpen();
    const q = this.queuesByName.get(queue);
    if (!q) return 0;
    const now = this.clock();
    const runAt = resolveWhen(when, now);
    let moved = 0;
    for (const slot of this.select(q, "dead", selection)) {
      const { job } = slot;
      const holder = job.key === null ? undefined : q.jobs.get(q.keys.get(job.key) ?? "");
      if (holder && holder !== slot && isUnfinished(holder.job.state)) continue;
      job.attempts = 0;
      if (job.key !== null) q.keys.set(job.key, job.id);
      this.scheduleAgain(q, slot, runAt, now);
      moved += 1;
    }
    if (moved > 0) this.wake(queue, runAt);
    return moved;
  }

  async purge(queue: string, state: FinishedState, selection: Selection): Promise<number> {
    this.ensureOpen();
    const q = this.queuesByName.get(queue);
    if (!q) return 0;
    const doomed = this.select(q, state, selection);
    for (const slot of doomed) this.remove(q, slot);
    return doomed.length;
  }

  async trim(queue: string, { keepLast, maxAgeMs }: Retention): Promise<number> {
    this.ensureOpen();
    const q = this.queuesByName.get(queue);
    if (!q) return 0;
    const cutoff = maxAgeMs === undefined ? -Infinity : this.clock() - maxAgeMs;
    // Newest first by finish time, so keepLast keeps the most recently finished.
    const finished = [...q.jobs.values()]
      .filter((s) => s.job.state === "completed" || s.job.state === "cancelled")
      .sort((a, b) => b.job.updatedAt - a.job.updatedAt || b.seq - a.seq);
    let removed = 0;
    finished.forEach((slot, rank) => {
      if ((keepLast !== undefined && rank >= keepLast) || slot.job.updatedAt < cutoff) {
        this.remove(q, slot);
        removed += 1;
      }
    });
    return removed;
  }

  subscribe(queue: string, wake: (runAt: number) => void): () => void {
    let set = this.subscribers.get(queue);
    if (!set) {
      set = new Set();
      this.subscribers.set(queue, set);
    }
    set.add(wake);
    return () => {
      set.delete(wake);
      if (set.size === 0 && this.subscribers.get(queue) === set) this.subscribers.delete(queue);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.subscribers.clear();
  }

  // --- internals -------------------------------------------------------------------------

  private ensureOpen(): void {
    if (this.closed) throw new StoreClosedError("memory");
  }

  private wake(queue: string, runAt: number): void {
    for (const wake of this.subscribers.get(queue) ?? []) wake(runAt);
  }

  private wakeAt(queue: string, runAt: number | null): void {
    if (runAt !== null) this.wake(queue, runAt);
  }

  private queue(name: string): QueueState {
    let q = this.queuesByName.get(name);
    if (!q) {
      const jobs = new Map<string, Slot>();
      q = {
        due: dueHeap(),
        levels: new Map(),
        jobs,
        keys: new Map(),
        groups: new QueueGroups((entry) => {
          const slot = jobs.get(entry.id);
          return slot !== undefined && slot.dueVersion === entry.version && slot.job.state === "scheduled";
        }),
      };
      this.queuesByName.set(name, q);
    }
    return q;
  }

  private find(q: QueueState, ref: JobRef): Slot | undefined {
    const id = "id" in ref ? ref.id : q.keys.get(ref.key);
    return id === undefined ? undefined : q.jobs.get(id);
  }

  /** A queue's groups, without creating the queue: an unknown queue answers an empty set. */
  private groupsOf(queue: string): QueueGroups {
    return this.queuesByName.get(queue)?.groups ?? EMPTY_GROUPS;
  }

  /** The ordinary due head if it is due by `now`. */
  private dueHead(q: QueueState, now: number): Entry | undefined {
    const entry = this.head(q.due, q);
    return entry && entry.dueAt <= now ? entry : undefined;
  }

  /** The live head of a due heap, dropping stale entries on the way. */
  private head(heap: MinHeap<Entry>, q: QueueState): Entry | undefined {
    for (let top = heap.peek(); top; top = heap.peek()) {
      const slot = q.jobs.get(top.id);
      if (slot && slot.dueVersion === top.version) return top;
      heap.pop();
    }
    return undefined;
  }

  /** The due head with the lowest claim rank across the levels (null if nothing is due). */
  private rankedHead(q: QueueState, now: number): Entry | undefined {
    let best: Entry | undefined;
    let bestRank = 0;
    for (const [priority, heap] of [[0, q.due] as const, ...q.levels]) {
      const top = this.head(heap, q);
      if (!top) {
        if (priority !== 0) q.levels.delete(priority);
        continue;
      }
      if (top.dueAt > now) continue;
      const rank = claimRank(top.dueAt, priority);
      if (!best || rank < bestRank || (rank === bestRank && top.seq < best.seq)) {
        best = top;
        bestRank = rank;
      }
    }
    return best;
  }

  /** Rule 4 of flow/groups.ts: the earliest ordinary due head (leases included) or group readyAt. */
  private nextDue(q: QueueState): number | null {
    let next = this.head(q.due, q)?.dueAt ?? null;
    for (const heap of q.levels.values()) {
      const top = this.head(heap, q);
      if (top && (next === null || top.dueAt < next)) next = top.dueAt;
    }
    const readyAt = q.groups.nextReadyAt();
    if (readyAt !== null && (next === null || readyAt < next)) next = readyAt;
    return next;
  }

  private heapOf(q: QueueState, priority: number): MinHeap<Entry> {
    if (priority === 0) return q.due;
    let heap = q.levels.get(priority);
    if (!heap) {
      heap = dueHeap();
      q.levels.set(priority, heap);
    }
    return heap;
  }

  /**
   * Puts the job (in its new state) at `dueAt`: a waiting grouped job in its group, anything
   * else (a lease included) in its level's due heap. `from` is its state before (null: new).
   * Returns the instant sleeping workers should wake for (null: none is sooner than before).
   */
  private index(q: QueueState, slot: Slot, dueAt: number, from: JobState | null, now: number): number | null {
    slot.dueVersion += 1;
    const entry: Entry = { dueAt, seq: slot.seq, id: slot.job.id, version: slot.dueVersion };
    const { group, state } = slot.job;
    if (group !== null && state === "scheduled") return q.groups.moved(group, from, state, entry, now);
    this.heapOf(q, slot.job.priority).push(entry);
    return dueAt;
  }

  /** Starts a due job: a fresh lease, one more attempt. */
  private start(q: QueueState, slot: Slot, now: number, leaseMs: number): JobRecord {
    const { job } = slot;
    job.state = "active";
    job.attempts += 1;
    job.leaseToken = newLeaseToken();
    job.leaseExpiresAt = now + leaseMs;
    job.updatedAt = now;
    if (job.runAt > now) job.runAt = now;
    this.index(q, slot, job.leaseExpiresAt, "active", now);
    return copy(job);
  }

  private scheduleAgain(q: QueueState, slot: Slot, runAt: number, now: number): void {
    const from = slot.job.state;
    Object.assign(slot.job, { state: "scheduled", runAt, leaseToken: null, leaseExpiresAt: null, updatedAt: now });
    this.wakeAt(slot.job.queue, this.index(q, slot, runAt, from, now));
  }

  private finish(q: QueueState, slot: Slot, state: JobState): void {
    const { job } = slot;
    const from = job.state;
    const now = this.clock();
    Object.assign(job, { state, leaseToken: null, leaseExpiresAt: null, updatedAt: now });
    slot.dueVersion += 1; // drops it from the due heap
    // A grouped job that leaves active frees a place in its group (rule 6): workers held by
    // the group's concurrency wake for it.
    if (job.group !== null) this.wakeAt(job.queue, q.groups.moved(job.group, from, state, null, now));
    // The key stays pointing at this job until another takes it: getByKey finds the newest.
  }

  private remove(q: QueueState, slot: Slot): void {
    q.jobs.delete(slot.job.id);
    if (slot.job.key !== null && q.keys.get(slot.job.key) === slot.job.id) q.keys.delete(slot.job.key);
  }

  private held(queue: string, id: string, leaseToken: string): { q: QueueState; slot: Slot } {
    const q = this.queuesByName.get(queue);
    const slot = q?.jobs.get(id);
    if (!q || !slot || slot.job.state !== "active" || slot.job.leaseToken !== leaseToken) throw new LeaseLostError(id);
    return { q, slot };
  }

  private select(q: QueueState, state: JobState, selection: Selection): Slot[] {
    if ("ids" in selection) {
      return selection.ids.map((id) => q.jobs.get(id)).filter((s): s is Slot => s?.job.state === state);
    }
    const limit = selection.limit ?? Infinity;
    const out: Slot[] = [];
    for (const slot of q.jobs.values()) {
      if (out.length >= limit) break;
      if (slot.job.state === state) out.push(slot);
    }
    return out;
  }
}

/** The groups of a queue the store has never seen: no group, the default limits none. */
const EMPTY_GROUPS = new QueueGroups(() => false);

function noteWake(woken: Map<string, number>, queue: string, runAt: number | null): void {
  if (runAt === null) return;
  const known = woken.get(queue);
  if (known === undefined || runAt < known) woken.set(queue, runAt);
}

function copy(job: JobRecord): JobRecord {
  return { ...job, errors: [...job.errors] };
}
