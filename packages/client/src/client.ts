/**
 * A small typed client for the checkback HTTP API (the server describes it at /openapi.json),
 * over the global fetch. The CLI is built on it; it also reads as a reference for writing a
 * client in another language: every call is one request, JSON in and out, and every failure
 * the server reports arrives as `{ error: { code, message, details? } }` with a 4xx/5xx status.
 */

/** Where a job stands: waiting for its due time, leased to a consumer, or finished one way or another. */
export type JobState = "scheduled" | "active" | "completed" | "dead" | "cancelled";

/** One failed attempt, as the job keeps it. */
export interface JobError {
  /** Which attempt failed (1-based). */
  attempt: number;
  /** Store-clock instant of the failure, epoch ms. */
  at: number;
  message: string;
}

/**
 * A job as the server returns it: the library's `Job` as JSON (instants in epoch ms on the
 * store's clock). The client declares it itself so that it depends on nothing; a type test in
 * the repository keeps the two the same.
 */
export interface ApiJob<T = unknown> {
  id: string;
  queue: string;
  key: string | null;
  payload: T;
  state: JobState;
  runAt: number;
  attempts: number;
  maxAttempts: number;
  /** Order among due jobs, −10..10, higher first. */
  priority: number;
  /** The job's group (docs/flow-control.md#groups); null when it has none. */
  group: string | null;
  errors: JobError[];
  result: unknown;
  createdAt: number;
  updatedAt: number;
}

/** An add answers with the job and whether it was created or an unfinished job already held the key. */
export type AddedJob = ApiJob & { outcome?: "created" | "existing" | "replaced" };

/** One job to add. `delay` is a duration ("30s" or ms); `runAt` an instant (epoch ms). */
export interface JobInput {
  payload: unknown;
  delay?: string | number;
  runAt?: number;
  key?: string;
  replace?: boolean;
  attempts?: number;
  backoff?: unknown;
  /** Order among due jobs, −10..10, higher first (default 0). A grouped job has priority 0. */
  priority?: number;
  /** The job's group: 1 to 256 characters without control characters; groups take turns and may be limited. */
  group?: string | null;
}

/** When to run again, as the API takes it: a duration from now, or an instant. Neither means now. */
export type WhenBody = { delay: string | number } | { runAt: number } | Record<string, never>;

export type JobRef = { id: string } | { key: string };

export type Counts = Record<JobState, number>;

export interface JobPage {
  jobs: ApiJob[];
  /** Cursor for the next page, null on the last. */
  next: string | null;
}

/** A queue's flow control (docs/flow-control.md), as the store keeps it. */
export interface FlowSettings {
  /** At most `rate` job starts per `perMs`, across every worker; null without a limit. */
  limit: { rate: number; perMs: number } | null;
  /** When the queue's pause ends (epoch ms, store clock); null when not paused. */
  pausedUntil: number | null;
  /** Starts the bucket allows now; null without a limit. */
  tokens: number | null;
  /** The queue's default limits for each of its groups; null when none are set. */
  groupLimits: GroupLimits | null;
}

/** Limits on each group of a queue, as the store keeps them. */
export interface GroupLimits {
  /** At most this many of a group's jobs active at once; null: no cap. */
  concurrency: number | null;
  /** Each group's starts: at most `rate` per `perMs`; null: none. */
  limit: { rate: number; perMs: number } | null;
}

/** Limits for groups as sent: `{ concurrency: 2, rate: { rate: 10, per: "1s" } }`; an absent field is none. */
export interface GroupLimitsInput {
  concurrency?: number | null;
  rate?: { rate: number; per: string | number } | null;
}

/** One group of a queue, as the store tells it. */
export interface GroupState {
  group: string;
  /** The limits in force: the group's own, else the queue's default (`{ concurrency: null, limit: null }`: none). */
  limits: GroupLimits;
  /** True when `limits` are the group's own. */
  ownLimits: boolean;
  /** The group's jobs active now, and waiting (due or not). */
  active: number;
  scheduled: number;
  /** When the group's pause ends (epoch ms, store clock); null when not paused. */
  pausedUntil: number | null;
  /** Starts the group's bucket allows now; null without a rate. */
  tokens: number | null;
}

/** The groups with the most active jobs, and how many groups have one. */
export interface BusiestGroups {
  groups: GroupState[];
  activeGroups: number;
}

/** Which dead jobs a redrive or purge touches, as the API takes it: listed ids, or all of them. */
export type SelectionBody = { ids: string[] } | { all: true };

/** A claimed job carries the lease that completing, failing, extending or releasing it needs. */
export type ClaimedJob = ApiJob & { leaseToken: string; leaseExpiresAt: number };

export interface ClaimRequest {
  /** Most jobs to take (1–1000, default 1). */
  limit?: number;
  /** How long the claim holds each job before another consumer may take it (default "30s"). */
  lease?: string | number;
  /** Long-poll: wait up to this long (at most 30s) for a job to fall due. */
  wait?: string | number;
}

/** One claimed job named in a batch call: its id and the lease token its claim handed out. */
export interface LeasedRef {
  id: string;
  leaseToken: string;
}

/**
 * One item of a batch call's answer, in the order sent: done (with what the single call would
 * have answered), or refused with the code the single call would have failed with (LEASE_LOST…).
 * A refused item changed nothing.
 */
export type ItemResult<T = Record<string, never>> =
  | ({ id: string; ok: true } & T)
  | { id: string; ok?: undefined; error: { code: string; message: string; details?: unknown } };

/** Most items a batch call takes (as many as one claim hands out). */
export const MAX_BATCH_ITEMS = 1000;

/** The longest long-poll a server holds a claim open: its `maxWait` setting is capped at 30 s. */
const LONGEST_WAIT_MS = 30_000;

/** One run of a sweep: its progress as of the last checkpoint, or its result once finished. */
export interface SweepRun {
  id: string;
  sweep: string;
  state: "running" | "completed" | "failed" | "cancelled";
  startedAt: number;
  finishedAt: number | null;
  durationMs: number;
  cursor: string | null;
  pages: number;
  items: number;
  failed: number;
  total: number | null;
  rate: number;
  etaMs: number | null;
  error: string | null;
  resumedFrom: string | null;
}

export interface SweepStatus {
  name: string;
  state: "idle" | SweepRun["state"];
  run: SweepRun | null;
  retrying: number;
  dead: number;
}

/** A schedule's definition as sent: `cron` (with `timezone`) or `every`, and the queue its firings go to. */
export interface ScheduleInput {
  cron?: string;
  timezone?: string;
  every?: string | number;
  payload?: unknown;
  start?: number;
  end?: number;
  missed?: "skip" | "latest" | "all";
  maxMissed?: number;
  queue: string;
  attempts?: number;
  backoff?: unknown;
}

export interface ApiSchedule {
  name: string;
  state: "active" | "paused" | "ended";
  definition: {
    cron: string | null;
    timezone: string | null;
    everyMs: number | null;
    payload: unknown;
    start: number | null;
    end: number | null;
    missed: "skip" | "latest" | "all";
    maxMissed: number;
    queue: string;
    attempts: number;
    backoff: unknown;
  };
  /** The next firings, epoch ms, soonest first. */
  next: number[];
}

/** What a firing job carries as its payload. */
export interface ApiFiring<T = unknown> {
  schedule: string;
  /** The tick it stands for, ISO 8601. */
  tick: string;
  kind: "tick" | "missed" | "trigger";
  payload: T;
}

export interface ClientOptions {
  /** Base URL of the server, e.g. http://127.0.0.1:8787 (the server's default) */
  url: string;
  /** Bearer token, when the server has tokens configured. */
  token?: string | undefined;
  /** Give up on a request after this many milliseconds. */
  timeoutMs?: number;
}

/** The server answered with an error. `code` is the server's stable error code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** No answer at all: nothing listening, a DNS failure, or the request timed out. */
export class ConnectionError extends Error {
  readonly code = "UNREACHABLE";

  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`cannot reach the checkback server at ${url} (${reason})`);
    this.name = "ConnectionError";
  }
}

export class CheckbackClient {
  private readonly base: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;

  constructor(options: ClientOptions) {
    this.base = options.url.replace(/\/+$/, "");
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  get url(): string {
    return this.base;
  }

  queues(): Promise<{ queues: { name: string; counts: Counts; flow: FlowSettings }[] }> {
    return this.request("GET", "/v1/queues");
  }

  // Flow control: a queue's rate limit and pause, shared by every worker of the queue.

  flow(queue: string): Promise<FlowSettings> {
    return this.request("GET", `${queuePath(queue)}/flow`);
  }

  /** At most `rate` starts per `per` (a duration: "1s" or ms); `null` lifts the limit. */
  limit(queue: string, limit: { rate: number; per: string | number } | null): Promise<FlowSettings> {
    return limit === null
      ? this.request("DELETE", `${queuePath(queue)}/limit`)
      : this.request("PUT", `${queuePath(queue)}/limit`, limit);
  }

  /** Starts none of the queue's jobs until then: `{ delay }` from now or `{ runAt }`. */
  pause(queue: string, until: { delay: string | number } | { runAt: number }): Promise<FlowSettings> {
    return this.request("POST", `${queuePath(queue)}/pause`, until);
  }

  resume(queue: string): Promise<FlowSettings> {
    return this.request("POST", `${queuePath(queue)}/resume`, {});
  }

  // Groups (docs/flow-control.md#groups): a job's group takes turns with the queue's other
  // groups, and each group may be limited and paused on its own.

  /** The queue's default limits for each group (null: none). */
  groupLimits(queue: string): Promise<{ groupLimits: GroupLimits | null }> {
    return this.request("GET", `${queuePath(queue)}/group-limits`);
  }

  /** Limits every group of the queue without limits of its own; `null` lifts them. */
  limitGroups(queue: string, limits: GroupLimitsInput | null): Promise<{ groupLimits: GroupLimits | null }> {
    return limits === null
      ? this.request("DELETE", `${queuePath(queue)}/group-limits`)
      : this.request("PUT", `${queuePath(queue)}/group-limits`, limits);
  }

  /** At most `limit` groups (1–1000, default 20), most active first, and how many groups have an active job. */
  busiestGroups(queue: string, limit?: number): Promise<BusiestGroups> {
    return this.request("GET", `${queuePath(queue)}/groups${query({ limit })}`);
  }

  groupState(queue: string, group: string): Promise<GroupState> {
    return this.request("GET", groupPath(queue, group));
  }

  /** Gives one group limits of its own; `null` drops them (the group takes the queue's default again). */
  limitGroup(queue: string, group: string, limits: GroupLimitsInput | null): Promise<GroupState> {
    return limits === null
      ? this.request("DELETE", `${groupPath(queue, group)}/limits`)
      : this.request("PUT", `${groupPath(queue, group)}/limits`, limits);
  }

  /** Starts none of the group's jobs until then: `{ delay }` from now or `{ runAt }`. */
  pauseGroup(queue: string, group: string, until: { delay: string | number } | { runAt: number }): Promise<GroupState> {
    return this.request("POST", `${groupPath(queue, group)}/pause`, until);
  }

  resumeGroup(queue: string, group: string): Promise<GroupState> {
    return this.request("POST", `${groupPath(queue, group)}/resume`, {});
  }

  add(queue: string, job: JobInput): Promise<AddedJob> {
    return this.request("POST", `${queuePath(queue)}/jobs`, job);
  }

  /** Atomic: the server adds all of the jobs or none. */
  addBulk(queue: string, jobs: JobInput[]): Promise<{ jobs: AddedJob[] }> {
    return this.request("POST", `${queuePath(queue)}/jobs/bulk`, { jobs });
  }

  list(queue: string, state: JobState, page: { limit?: number; cursor?: string | null } = {}): Promise<JobPage> {
    return this.request("GET", `${queuePath(queue)}/jobs${query({ state, ...page })}`);
  }

  counts(queue: string): Promise<Counts> {
    return this.request("GET", `${queuePath(queue)}/counts`);
  }

  get(queue: string, ref: JobRef): Promise<ApiJob> {
    return this.request("GET", refPath(queue, ref));
  }

  cancel(queue: string, ref: JobRef): Promise<{ cancelled: boolean }> {
    return this.request("DELETE", refPath(queue, ref));
  }

  reschedule(queue: string, ref: JobRef, when: WhenBody): Promise<ApiJob> {
    return this.request("POST", `${refPath(queue, ref)}/reschedule`, when);
  }

  listDead(queue: string, page: { limit?: number; cursor?: string | null } = {}): Promise<JobPage> {
    return this.request("GET", `${queuePath(queue)}/dead${query(page)}`);
  }

  getDead(queue: string, id: string): Promise<ApiJob> {
    return this.request("GET", `${queuePath(queue)}/dead/${encodeURIComponent(id)}`);
  }

  redrive(queue: string, selection: SelectionBody, when: WhenBody = {}): Promise<{ redriven: number }> {
    return this.request("POST", `${queuePath(queue)}/dead/redrive`, { ...selection, ...when });
  }

  purge(queue: string, selection: SelectionBody): Promise<{ purged: number }> {
    return this.request("POST", `${queuePath(queue)}/dead/purge`, selection);
  }

  // Pull delivery: a consumer in any language claims due jobs and completes, fails or releases
  // each with its leaseToken. A leaseToken that no longer holds the job (lease ran out, job
  // cancelled) is 409 LEASE_LOST.

  claim(queue: string, request: ClaimRequest = {}): Promise<{ jobs: ClaimedJob[] }> {
    // The server may hold a long-poll open for `wait`; allow for it on top of the usual timeout.
    // A duration given as text is the server's to parse: allow the longest wait it may hold.
    const waitMs = typeof request.wait === "number" ? request.wait : request.wait === undefined ? 0 : LONGEST_WAIT_MS;
    return this.request("POST", `${queuePath(queue)}/claim`, request, this.timeoutMs + waitMs);
  }

  complete(queue: string, id: string, leaseToken: string, result?: unknown): Promise<{ completed: boolean }> {
    return this.request(
      "POST",
      `${jobPath(queue, id)}/complete`,
      result === undefined ? { leaseToken } : { leaseToken, result },
    );
  }

  /** Retried after the job's back-off, or dead when its attempts are used up (`retryAt` null). */
  fail(queue: string, id: string, leaseToken: string, error: string): Promise<{ job: ApiJob; retryAt: number | null }> {
    return this.request("POST", `${jobPath(queue, id)}/fail`, { leaseToken, error });
  }

  extend(queue: string, id: string, leaseToken: string, lease: string | number): Promise<{ leaseExpiresAt: number }> {
    return this.request("POST", `${jobPath(queue, id)}/extend`, { leaseToken, lease });
  }

  /**
   * Gives the job back without spending an attempt, due again after `delay`. With
   * `{ pauseQueue: true }` the queue, with `{ pauseGroup: true }` the job's group, is paused
   * until then too: the other side said slow down.
   */
  release(
    queue: string,
    id: string,
    leaseToken: string,
    delay?: string | number,
    options: { pauseQueue?: boolean; pauseGroup?: boolean } = {},
  ): Promise<{ released: boolean }> {
    return this.request("POST", `${jobPath(queue, id)}/release`, {
      leaseToken,
      ...(delay === undefined ? {} : { delay }),
      ...(options.pauseQueue ? { pauseQueue: true } : {}),
      ...(options.pauseGroup ? { pauseGroup: true } : {}),
    });
  }

  // Batch settling: up to MAX_BATCH_ITEMS claimed jobs of one queue in one request. The call
  // succeeds even when some items are refused: look at each result's `ok` / `error`.

  /** Completes many claimed jobs, each with its optional result. */
  completeMany(queue: string, jobs: (LeasedRef & { result?: unknown })[]): Promise<{ results: ItemResult[] }> {
    const items = jobs.map((job) =>
      job.result === undefined ? leasedRef(job) : { ...leasedRef(job), result: job.result },
    );
    return this.request("POST", `${queuePath(queue)}/jobs/complete`, { jobs: items });
  }

  /** Records a failed attempt for many claimed jobs: each retried after its back-off (`retryAt`) or dead (`retryAt: null`). */
  failMany(
    queue: string,
    jobs: (LeasedRef & { error: string })[],
  ): Promise<{ results: ItemResult<{ retryAt: number | null }>[] }> {
    const items = jobs.map((job) => ({ ...leasedRef(job), error: job.error }));
    return this.request("POST", `${queuePath(queue)}/jobs/fail`, { jobs: items });
  }

  /** Extends the leases of many claimed jobs to now + `lease` (a heartbeat for a batch in progress). */
  extendMany(
    queue: string,
    jobs: LeasedRef[],
    lease: string | number,
  ): Promise<{ results: ItemResult<{ leaseExpiresAt: number }>[] }> {
    return this.request("POST", `${queuePath(queue)}/jobs/extend`, { jobs: jobs.map(leasedRef), lease });
  }

  /**
   * Gives many claimed jobs back without spending their attempts, due again after `delay`. With
   * `{ pauseQueue: true }` the queue, with `{ pauseGroup: true }` each job's group, is paused
   * until then too.
   */
  releaseMany(
    queue: string,
    jobs: LeasedRef[],
    delay?: string | number,
    options: { pauseQueue?: boolean; pauseGroup?: boolean } = {},
  ): Promise<{ results: ItemResult[] }> {
    return this.request("POST", `${queuePath(queue)}/jobs/release`, {
      jobs: jobs.map(leasedRef),
      ...(delay === undefined ? {} : { delay }),
      ...(options.pauseQueue ? { pauseQueue: true } : {}),
      ...(options.pauseGroup ? { pauseGroup: true } : {}),
    });
  }

  // Sweeps defined on the server (PUT /v1/sweeps/:name is an admin's set-up step).

  sweeps(): Promise<{ sweeps: SweepStatus[] }> {
    return this.request("GET", "/v1/sweeps");
  }

  sweepStatus(name: string): Promise<SweepStatus> {
    return this.request("GET", sweepPath(name));
  }

  /** Starts a run, or returns the one going (`created: false`). */
  startSweep(name: string, options: { restart?: boolean } = {}): Promise<SweepRun & { created: boolean }> {
    return this.request("POST", `${sweepPath(name)}/start`, options);
  }

  cancelSweep(name: string): Promise<{ cancelled: boolean }> {
    return this.request("POST", `${sweepPath(name)}/cancel`, {});
  }

  sweepRuns(name: string, limit?: number): Promise<{ runs: SweepRun[] }> {
    return this.request("GET", `${sweepPath(name)}/runs${query({ limit })}`);
  }

  // Schedules: firings are ordinary jobs in the schedule's queue (claim or push them as any job).

  schedules(options: { next?: number } = {}): Promise<{ schedules: ApiSchedule[] }> {
    return this.request("GET", `/v1/schedules${query(options)}`);
  }

  schedule(name: string, options: { next?: number } = {}): Promise<ApiSchedule> {
    return this.request("GET", `${schedulePath(name)}${query(options)}`);
  }

  /** Creates or updates; the same definition again changes nothing (`outcome: "unchanged"`). */
  defineSchedule(
    name: string,
    definition: ScheduleInput,
  ): Promise<ApiSchedule & { outcome: "created" | "updated" | "unchanged" }> {
    return this.request("PUT", schedulePath(name), definition);
  }

  removeSchedule(name: string): Promise<{ removed: boolean }> {
    return this.request("DELETE", schedulePath(name));
  }

  pauseSchedule(name: string): Promise<ApiSchedule> {
    return this.request("POST", `${schedulePath(name)}/pause`, {});
  }

  resumeSchedule(name: string): Promise<ApiSchedule> {
    return this.request("POST", `${schedulePath(name)}/resume`, {});
  }

  /** A firing now (kind "trigger"), with the schedule's payload unless one is given. */
  triggerSchedule<T = unknown>(name: string, payload?: T): Promise<ApiJob<ApiFiring<T>>> {
    return this.request("POST", `${schedulePath(name)}/trigger`, payload === undefined ? {} : { payload });
  }

  private async request<T>(method: string, path: string, body?: unknown, timeoutMs = this.timeoutMs): Promise<T> {
    const url = `${this.base}${path}`;
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new ConnectionError(this.base, describeFetchFailure(error, timeoutMs));
    }
    const text = await response.text();
    const parsed = parseJson(text);
    if (!response.ok) throw toApiError(response, parsed, text);
    if (parsed === undefined) {
      throw new ApiError(response.status, "BAD_RESPONSE", `expected JSON from ${method} ${path}, got ${preview(text)}`);
    }
    return parsed as T;
  }
}

/** Just the id and token: a claimed job passed as it came carries fields the server would refuse. */
function leasedRef(job: LeasedRef): LeasedRef {
  return { id: job.id, leaseToken: job.leaseToken };
}

function sweepPath(name: string): string {
  return `/v1/sweeps/${encodeURIComponent(name)}`;
}

function queuePath(queue: string): string {
  return `/v1/queues/${encodeURIComponent(queue)}`;
}

function groupPath(queue: string, group: string): string {
  return `${queuePath(queue)}/groups/${encodeURIComponent(group)}`;
}

function jobPath(queue: string, id: string): string {
  return `${queuePath(queue)}/jobs/${encodeURIComponent(id)}`;
}

function refPath(queue: string, ref: JobRef): string {
  return "id" in ref ? jobPath(queue, ref.id) : `${queuePath(queue)}/keys/${encodeURIComponent(ref.key)}`;
}

function query(params: Record<string, string | number | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null) search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

function parseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Servers in front of checkback (proxies) may answer errors in their own shape; keep what they said. */
function toApiError(response: Response, parsed: unknown, text: string): ApiError {
  const error = (parsed as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
  if (error && typeof error === "object" && typeof error.code === "string") {
    return new ApiError(response.status, error.code, String(error.message ?? ""), error.details);
  }
  const reason = text ? preview(text) : response.statusText;
  return new ApiError(response.status, `HTTP_${response.status}`, reason);
}

function describeFetchFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof DOMException && error.name === "TimeoutError") return `no answer within ${timeoutMs}ms`;
  // undici wraps the socket error (ECONNREFUSED, ENOTFOUND…) in `cause`.
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (cause && typeof cause.code === "string") return cause.code;
  if (cause && typeof cause.message === "string") return cause.message;
  return error instanceof Error ? error.message : String(error);
}

function preview(text: string): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  return oneLine.length > 200 ? `${oneLine.slice(0, 200)}…` : oneLine;
}

function schedulePath(name: string): string {
  return `/v1/schedules/${encodeURIComponent(name)}`;
}
