import { describeValue } from "../core/describe.js";
import type { Duration } from "../core/duration.js";
import { InvalidStateError, invalidOption, JobNotFoundError } from "../core/errors.js";
import { describeRef, JOB_STATES, type JobRef, type JobState } from "../core/job.js";
import { type Job, toJob } from "../core/job-view.js";
import { type AddOptions, type JobDefaults, resolveAddOptions, resolveWhen } from "../core/options.js";
import { serializePayload } from "../core/payload.js";
import type { Selection } from "../core/selection.js";
import { MAX_ID_LENGTH, MAX_KEY_LENGTH, validateIdentifier } from "../core/text.js";
import type { When } from "../core/when.js";
import {
  type GroupLimitsInput,
  type GroupState,
  MAX_GROUP_LENGTH,
  resolveGroup,
  resolveGroupLimits,
} from "../flow/groups.js";
import { type FlowSettings, type RateLimitInput, resolveRateLimit } from "../flow/rate-limit.js";
import type { AddOutcome, FinishedState, NewJob, Store } from "../stores/store.js";
import { jobTracing } from "../telemetry/tracing.js";

export type Added<T> = Job<T> & { outcome: AddOutcome["outcome"] };

/** A job named by id (a plain string) or by `{ key }`. */
export type JobLookup = string | JobRef;

export interface QueueSettings {
  maxPayloadBytes: number;
  defaults: JobDefaults;
}

/** When to run again: `{ delay }` from now or `{ runAt }`; nothing means now. */
export interface WhenOptions {
  delay?: Duration;
  runAt?: number | Date;
}

const FINISHED: readonly FinishedState[] = ["dead", "completed", "cancelled"];

/**
 * The producing side of one queue: add jobs, look them up, change or cancel them, and manage
 * dead letters. Every input is validated before the store is touched, so a rejected call
 * changes nothing.
 */
export class Queue<T = unknown> {
  constructor(
    readonly name: string,
    private readonly store: Store,
    private readonly settings: QueueSettings,
  ) {}

  /**
   * This queue (same name, defaults and limits) over another store — typically a PostgreSQL
   * store's transactional view, so jobs are added inside the caller's own transaction:
   * `queue.withStore(pgStore.inTransaction(client)).add(…)`.
   */
  withStore(store: Store): Queue<T> {
    return new Queue<T>(this.name, store, this.settings);
  }

  async add(payload: T, options?: AddOptions): Promise<Added<T>> {
    const [added] = await this.addBulk([{ payload, options }]);
    return added!;
  }

  /** Adds all the jobs or none of them. */
  async addBulk(items: { payload: T; options?: AddOptions }[]): Promise<Added<T>[]> {
    if (!Array.isArray(items)) throw invalidOption("addBulk takes an array of { payload, options }");
    const jobs: NewJob[] = items.map((item) => this.prepare(item.payload, item.options));
    if (jobs.length === 0) return [];
    const tracing = jobTracing();
    const outcomes = tracing
      ? await tracing.add(this.name, jobs, (marked) => this.store.add(marked))
      : await this.store.add(jobs);
    return outcomes.map(({ job, outcome }) => ({ ...toJob<T>(job), outcome }));
  }

  async get(lookup: JobLookup): Promise<Job<T> | null> {
    const ref = toRef(lookup);
    const record =
      "id" in ref ? await this.store.get(this.name, ref.id) : await this.store.getByKey(this.name, ref.key);
    return record ? toJob<T>(record) : null;
  }

  /** Cancels a scheduled or active job. True if it was cancelled, false if it had already finished. */
  async cancel(lookup: JobLookup): Promise<boolean> {
    const ref = toRef(lookup);
    const { job, changed } = await this.store.cancel(this.name, ref);
    if (!job) throw new JobNotFoundError(describeRef(ref));
    return changed;
  }

  /** Moves a scheduled job to a new due instant. */
  async reschedule(lookup: JobLookup, when: WhenOptions): Promise<Job<T>> {
    const ref = toRef(lookup);
    const { job, changed } = await this.store.reschedule(this.name, ref, whenOf(when));
    if (!job) throw new JobNotFoundError(describeRef(ref));
    if (!changed) throw new InvalidStateError(`job ${job.id} is ${job.state}; only scheduled jobs can be rescheduled`);
    return toJob<T>(job);
  }

  async list(
    state: JobState,
    page: { limit?: number; cursor?: string | null } = {},
  ): Promise<{ jobs: Job<T>[]; next: string | null }> {
    if (!JOB_STATES.includes(state)) throw invalidOption(`unknown state ${describeValue(state)}`);
    const limit = page.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw invalidOption("limit must be an integer from 1 to 1000");
    const result = await this.store.list(this.name, state, { limit, cursor: page.cursor ?? null });
    return { jobs: result.jobs.map((job) => toJob<T>(job)), next: result.next };
  }

  /**
   * Flow control (docs/flow-control.md): at most `rate` job starts per `per` for this queue,
   * across every worker, kept by the store (`null` lifts it). `queue.limit({ rate: 100, per: "1s" })`.
   */
  async limit(limit: RateLimitInput | null): Promise<void> {
    await this.store.setRateLimit(this.name, resolveRateLimit(limit));
  }

  /** Holds every start of this queue until the given time (`{ delay }` from now or `{ runAt }`). */
  async pause(until: WhenOptions): Promise<void> {
    await this.store.pauseQueue(this.name, pauseUntil(until));
  }

  /** Lifts a pause. */
  async resume(): Promise<void> {
    await this.store.pauseQueue(this.name, null);
  }

  /** The queue's rate limit and pause, and its default limits for groups, as the store keeps them. */
  flowSettings(): Promise<FlowSettings> {
    return this.store.flowSettings(this.name);
  }

  /**
   * Groups (docs/flow-control.md): the default limits of every group of this queue without its
   * own — at most `concurrency` of a group's jobs active at once, at most `rate` starts per
   * `per` for each group — kept by the store across every worker. `null` (or a field null) lifts them.
   * `queue.limitGroups({ concurrency: 2, rate: { rate: 10, per: "1s" } })`.
   */
  async limitGroups(limits: GroupLimitsInput | null): Promise<void> {
    await this.store.setGroupLimits(this.name, null, resolveGroupLimits(limits));
  }

  /** One group's own limits, in place of the queue's default for groups; `null` returns it to the default. */
  async limitGroup(group: string, limits: GroupLimitsInput | null): Promise<void> {
    const name = requireGroup(group);
    await this.store.setGroupLimits(this.name, name, resolveGroupLimits(limits));
  }

  /** Holds every start of one group until the given time (`{ delay }` from now or `{ runAt }`); the other groups go on. */
  async pauseGroup(group: string, until: WhenOptions): Promise<void> {
    const name = requireGroup(group);
    await this.store.pauseGroup(this.name, name, pauseUntil(until));
  }

  /** Lifts a group's pause. */
  async resumeGroup(group: string): Promise<void> {
    await this.store.pauseGroup(this.name, requireGroup(group), null);
  }

  /** One group's limits in force, pause, tokens, and active and scheduled jobs. */
  async groupState(group: string): Promise<GroupState> {
    return this.store.groupState(this.name, requireGroup(group));
  }

  /** The groups with the most active jobs (at most `limit`, 1..1000), and how many groups have an active job. */
  async busiestGroups(limit = 20): Promise<{ groups: GroupState[]; activeGroups: number }> {
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw invalidOption("limit must be an integer from 1 to 1000", { field: "limit", value: limit });
    }
    return this.store.busiestGroups(this.name, limit);
  }

  counts(): Promise<Record<JobState, number>> {
    return this.store.counts(this.name);
  }

  /** Sends dead jobs back: listed ids, or every dead job (`"all"`), now or at a later time. */
  async redrive(which: string[] | "all", when: WhenOptions = {}): Promise<number> {
    return this.store.redrive(this.name, selectionOf(which), whenOf(when));
  }

  /** Deletes finished jobs in one state (dead letters by default). */
  async purge(which: string[] | "all", state: FinishedState = "dead"): Promise<number> {
    if (!FINISHED.includes(state)) throw invalidOption(`only finished jobs can be purged, not ${describeValue(state)}`);
    return this.store.purge(this.name, state, selectionOf(which));
  }

  private prepare(payload: T, options: AddOptions | undefined): NewJob {
    const resolved = resolveAddOptions(options, this.settings.defaults);
    return {
      queue: this.name,
      key: resolved.key,
      payload: serializePayload(payload, this.settings.maxPayloadBytes),
      when: resolved.when,
      maxAttempts: resolved.maxAttempts,
      backoff: resolved.backoff,
      onDuplicate: resolved.onDuplicate,
      priority: resolved.priority,
      group: resolved.group,
    };
  }
}

export function toRef(lookup: JobLookup): JobRef {
  if (typeof lookup === "string") return { id: validateIdentifier(lookup, "id", MAX_ID_LENGTH) };
  if (typeof lookup === "object" && lookup !== null) {
    if ("id" in lookup) return { id: validateIdentifier(lookup.id, "id", MAX_ID_LENGTH) };
    if ("key" in lookup) return { key: validateIdentifier(lookup.key, "key", MAX_KEY_LENGTH) };
  }
  throw invalidOption("name a job by its id or by { key }", { lookup });
}

/** A group named by a call that acts on one: a group name, never absent. */
function requireGroup(group: unknown): string {
  const name = resolveGroup(group);
  if (name === null) {
    throw invalidOption(`name a group: a string of 1 to ${MAX_GROUP_LENGTH} characters`, { field: "group" });
  }
  return name;
}

/** A pause's end: `{ delay }` from now or `{ runAt }`. */
function pauseUntil(until: WhenOptions): When {
  if (until === null || typeof until !== "object" || (until.delay === undefined && until.runAt === undefined)) {
    throw invalidOption("pause takes { delay } or { runAt }", { field: "until" });
  }
  return resolveWhen(until.delay, until.runAt);
}

function whenOf(when: WhenOptions): When {
  if (typeof when !== "object" || when === null) throw invalidOption("give { delay } or { runAt }");
  if (when.delay !== undefined && when.runAt !== undefined) throw invalidOption("give delay or runAt, not both");
  return resolveWhen(when.delay, when.runAt);
}

function selectionOf(which: string[] | "all"): Selection {
  if (which === "all") return { all: true as const };
  // A selection is a set: an id named twice is one job, counted once, on every store.
  if (Array.isArray(which))
    return { ids: [...new Set(which.map((id) => validateIdentifier(id, "id", MAX_ID_LENGTH)))] };
  throw invalidOption('give a list of job ids or "all"');
}
