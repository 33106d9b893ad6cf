import type { BackoffPolicy } from "../core/backoff.js";
import type { JobRecord, JobRef, JobState } from "../core/job.js";
import type { Selection } from "../core/selection.js";
import type { When } from "../core/when.js";
import type { GroupLimits, GroupState } from "../flow/groups.js";
import type { FlowSettings, RateLimit } from "../flow/rate-limit.js";

export type { Selection, When };

/**
 * The Store contract: everything checkback needs from a backend, as small named operations.
 * Each operation is atomic on its own; none needs a transaction spanning two calls.
 *
 * Clock: every instant a store writes (runAt, lease expiry, createdAt…) comes from the
 * store's own clock (`now()`): the owning process for memory/SQLite (or a clock the caller
 * injects), `TIME` for Redis, `clock_timestamp()` for PostgreSQL (see postgres/schema.ts).
 * Producers pass delays; the store turns them into instants.
 *
 * Due index: a store finds due work as "scheduled with runAt ≤ now, or active with
 * leaseExpiresAt ≤ now", in (due instant, insertion order) order. Expired leases are thus
 * found by the same claim as due jobs — a dead worker's job simply becomes due again.
 *
 * Errors, the same on every store: after `close()` every call rejects with STORE_CLOSED
 * (StoreClosedError). When the backend cannot be reached (server down, connection lost, no reply
 * within the store's timeout) a call rejects within a few seconds with STORE_UNAVAILABLE
 * (StoreUnavailableError) naming the server, never its password, and the cause; the store
 * reconnects by itself, so a later call may succeed. A write whose reply was lost may or may not
 * have been applied: STORE_UNAVAILABLE means "unknown, retry" (a keyed add retried is safe).
 *
 * Every implementation passes test/conformance/store-suite.ts.
 */
export interface Store {
  /** Short backend name for logs and metrics: "memory", "sqlite", "redis", "postgres". */
  readonly kind: string;

  /** The store's clock, epoch ms. */
  now(): Promise<number>;

  /**
   * Adds jobs: all of them, or none. Outcomes in input order. Every input is checked before
   * anything is written, so a refused batch adds nothing. One exception, on Redis only: a batch
   * whose jobs span several queues, or several partitions of a Redis Cluster, is written as one
   * atomic step per (queue, partition), so a server failure between two of them (an outage,
   * reported as STORE_UNAVAILABLE) can leave part of the batch added. Retrying it is safe for
   * jobs with keys; keyless jobs may then be added twice.
   */
  add(jobs: NewJob[]): Promise<AddOutcome[]>;

  get(queue: string, id: string): Promise<JobRecord | null>;
  /**
   * The unfinished (scheduled or active) job holding this key; if none, the newest finished job
   * that had it and is still retained; else null.
   */
  getByKey(queue: string, key: string): Promise<JobRecord | null>;

  /** Cancels a scheduled or active job. An active job's lease is voided: its holder cannot complete it. */
  cancel(queue: string, ref: JobRef): Promise<ChangeOutcome>;
  /** Moves a scheduled job to a new due instant. */
  reschedule(queue: string, ref: JobRef, when: When): Promise<ChangeOutcome>;

  /**
   * Claims up to `limit` due jobs, best claim rank first (flow/priority.ts: oldest due first,
   * FIFO within the same instant, when no job has a priority), within the queue's rate limit, giving
   * each a fresh lease token. Attempts are counted here. A claimed job whose previous lease
   * expired records a "lease expired" error; if its attempts are used up it goes dead instead.
   * Also returns the next due instant left in the queue, so the worker can sleep until then.
   */
  claimDue(queue: string, options: ClaimOptions): Promise<ClaimResult>;

  /**
   * Flow control (flow/rate-limit.ts): the queue's rate limit, kept by the store and charged by
   * claimDue on the store's clock (null lifts it). A claim then starts no more jobs than the
   * bucket allows and its nextDueAt is no earlier than the next start allowed.
   */
  setRateLimit(queue: string, limit: RateLimit | null): Promise<void>;
  /** Holds every start of the queue until `until` (on the store's clock), or resumes it (null). */
  pauseQueue(queue: string, until: When | null): Promise<void>;
  /** The queue's rate limit and pause, and its default limits for groups. */
  flowSettings(queue: string): Promise<FlowSettings>;

  /**
   * Groups (flow/groups.ts holds the rule every store keeps): a grouped job waits in its group,
   * groups take turns, and each group's concurrency, rate limit and pause are charged by
   * claimDue. `group` null sets the queue's default limits for every group without its own;
   * `limits` null lifts them (a group then falls back to the default).
   */
  setGroupLimits(queue: string, group: string | null, limits: GroupLimits | null): Promise<void>;
  /** Holds every start of one group until `until` (on the store's clock), or resumes it (null). */
  pauseGroup(queue: string, group: string, until: When | null): Promise<void>;
  /** One group's state; a group with no job and no flow state answers zeros and the queue's default limits. */
  groupState(queue: string, group: string): Promise<GroupState>;
  /**
   * Groups with active jobs, most active first (ties: by name), at most `limit` (1..1000), and
   * how many groups have an active job: what /metrics and the dashboard show of millions.
   */
  busiestGroups(queue: string, limit: number): Promise<{ groups: GroupState[]; activeGroups: number }>;

  /** Pushes the lease out to now + leaseMs; throws LeaseLostError if `leaseToken` no longer holds it. */
  extendLease(queue: string, id: string, leaseToken: string, leaseMs: number): Promise<number>;
  /**
   * active → completed, and adds `completion.enqueue` jobs in the same atomic step (follow-up
   * work that must exist if and only if this job completed: a check's outcome). Follow-ups must
   * be in the same queue — any other is refused with INVALID_OPTION before anything changes —
   * and a partitioned store places them beside the completed job.
   * Throws LeaseLostError on a stale token.
   */
  complete(queue: string, id: string, leaseToken: string, completion: Completion): Promise<void>;
  /**
   * Completes an unfinished job from outside, without a lease (a check resolved by the other
   * party's notification): like complete, but a running holder's lease is voided. `changed` is
   * false when the job had already finished — whichever of the two ends it first wins.
   */
  settle(queue: string, ref: JobRef, completion: Completion): Promise<ChangeOutcome>;
  /**
   * Records a failed attempt: back to scheduled after `retryDelayMs`, or to dead when it is
   * null. Throws LeaseLostError on a stale token.
   */
  fail(queue: string, id: string, leaseToken: string, failure: Failure): Promise<JobRecord>;
  /**
   * Gives the job back without counting the attempt (a handler asked to run later, or a worker
   * is shutting down): scheduled again after `delayMs`. Throws LeaseLostError on a stale token.
   */
  release(queue: string, id: string, leaseToken: string, release: Release): Promise<void>;

  /**
   * Jobs in one state, oldest first, a page at a time. A cursor is good only for the queue and
   * state it came from: any other (garbled, another queue's or store's) is refused with
   * INVALID_OPTION (see list-cursor.ts).
   */
  list(queue: string, state: JobState, page: PageRequest): Promise<Page>;
  counts(queue: string): Promise<Record<JobState, number>>;
  /** Names of queues that hold any job. */
  queues(): Promise<string[]>;

  /**
   * Dead jobs back to scheduled with their attempts reset (their error history is kept).
   * A dead job whose key is meanwhile held by another unfinished job is left dead.
   */
  redrive(queue: string, selection: Selection, when: When): Promise<number>;
  /** Deletes finished jobs (dead, completed or cancelled) in one state. */
  purge(queue: string, state: FinishedState, selection: Selection): Promise<number>;
  /** Retention: deletes completed and cancelled jobs beyond the newest `keepLast` or older than `maxAgeMs`. */
  trim(queue: string, retention: Retention): Promise<number>;

  /**
   * Calls `wake(runAt)` when a job in `queue` becomes due at `runAt`, which may be earlier
   * than what a sleeping worker waits for (an add, a reschedule, a redrive, a release).
   * Best effort: a store may coalesce or skip wake-ups for jobs not at the head of the queue.
   */
  subscribe(queue: string, wake: (runAt: number) => void): () => void;

  close(): Promise<void>;
}

export interface NewJob {
  queue: string;
  key: string | null;
  /** JSON text. */
  payload: string;
  when: When;
  maxAttempts: number;
  backoff: BackoffPolicy;
  /** What to do if an unfinished job already holds `key`: keep it, or replace its payload and due time. */
  onDuplicate: "keep" | "replace";
  /**
   * Order among due jobs (flow/priority.ts); 0 when absent. Set when the job is created: a
   * replace keeps the holder's priority.
   */
  priority?: number;
  /**
   * The job's group (flow/groups.ts), null or absent for none. Set when the job is created: a
   * replace keeps the holder's group. A grouped job has priority 0.
   */
  group?: string | null;
}

export interface AddOutcome {
  job: JobRecord;
  /**
   * created: a new job. existing: an unfinished job held the key and was kept.
   * replaced: a scheduled job held the key and got the new payload and due time.
   * (An active job holding the key is never replaced; the outcome is "existing".)
   */
  outcome: "created" | "existing" | "replaced";
}

export interface ChangeOutcome {
  /** The job after the call, or null if no such job. */
  job: JobRecord | null;
  /** False when the job exists but its state does not allow the change. */
  changed: boolean;
}

export interface ClaimOptions {
  limit: number;
  leaseMs: number;
}

export interface ClaimResult {
  jobs: JobRecord[];
  /** Earliest due instant left (scheduled runAt or active lease expiry), null if none. */
  nextDueAt: number | null;
  /** The store's clock when the claim ran: sleep for nextDueAt − now. */
  now: number;
}

export interface Completion {
  /** JSON text of the outcome, or null. */
  result: string | null;
  /** Jobs to add atomically with the completion; same queue, `onDuplicate` honoured. */
  enqueue?: NewJob[];
}

export interface Release {
  delayMs: number;
  /** Pause the queue until the job is due again (flow/slow-down.ts applies it; a store ignores it). */
  pauseQueue?: boolean;
  /** Pause the job's group until the job is due again (flow/slow-down.ts applies it; a store ignores it). */
  pauseGroup?: boolean;
  /** New JSON payload to keep (a check records its probe history this way); unchanged if absent. */
  payload?: string;
}

export interface Failure {
  error: string;
  retryDelayMs: number | null;
}

export interface PageRequest {
  limit: number;
  /** Opaque cursor from a previous page of the same queue and state. */
  cursor?: string | null;
}

export interface Page {
  jobs: JobRecord[];
  /** Cursor for the next page, null on the last. */
  next: string | null;
}

export type FinishedState = "dead" | "completed" | "cancelled";

export interface Retention {
  keepLast?: number;
  maxAgeMs?: number;
}
