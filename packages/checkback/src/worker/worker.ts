import { EventEmitter } from "node:events";
import { retryDelay } from "../core/backoff.js";
import { ClockOffset } from "../core/clock-offset.js";
import { type Duration, parseDuration } from "../core/duration.js";
import { CheckbackError, invalidOption, LeaseLostError } from "../core/errors.js";
import type { JobRecord } from "../core/job.js";
import { type Job, toJob } from "../core/job-view.js";
import { rejectUnknown, validateQueueName } from "../core/options.js";
import { DEFAULT_MAX_PAYLOAD_BYTES, serializePayload } from "../core/payload.js";
import { failureMessage } from "../core/text.js";
import type { ClaimResult, NewJob, Retention, Store } from "../stores/store.js";
import { type ErrorReporter, warningReporter } from "./error-report.js";

/**
 * Returned by a handler to run the job again after `delayMs` without counting a failure.
 * With a `payload`, the job comes back carrying it (a check keeps its probe history this way).
 */
export class RunLater {
  constructor(
    readonly delayMs: number,
    readonly payload?: unknown,
  ) {}
}

/**
 * `return later("30s")` from a handler: not done yet, come back in 30 s; no attempt is spent.
 * A `payload` is held to the same rules as an added job's (JSON it can carry, the instance's
 * size limit); one that breaks them fails the attempt with that error.
 */
export function later(delay: Duration, payload?: unknown): RunLater {
  return new RunLater(parseDuration(delay, "later"), payload);
}

/**
 * Returned by a handler to complete its job and add follow-up jobs in the same atomic step:
 * the follow-ups exist if and only if this job completed (a check's outcome). They must be in
 * the worker's own queue.
 */
export class CompleteWith {
  constructor(
    readonly result: unknown,
    readonly enqueue: NewJob[],
  ) {}
}

/** The job a handler receives: the job plus its lease, and a signal aborted if the lease is lost. */
export interface ActiveJob<T> extends Job<T> {
  leaseToken: string;
  signal: AbortSignal;
  /** When the handler started, on the store's clock (lateness = startedAt − runAt). */
  startedAt: number;
}

export type Handler<T> = (job: ActiveJob<T>) => unknown;

/** Limits the worker applies to what handlers hand back; a Checkback instance passes its own. */
export interface WorkerLimits {
  /** Largest serialized result or later() payload, in bytes (default 256 KiB). */
  maxPayloadBytes: number;
}

export interface WorkerOptions {
  /** Jobs run at once (default 1). */
  concurrency?: number;
  /** Lease length (default "30s"); extended while the handler runs, so it only bounds how long a dead worker's jobs wait. */
  lease?: Duration;
  /** Retention of completed and cancelled jobs (default keep the last 1000); false keeps all. */
  retention?: { keepLast?: number; maxAge?: Duration } | false;
  /** How long close() waits for running handlers before releasing their jobs (default "10s"). */
  shutdownTimeout?: Duration;
  /**
   * Most jobs the worker may hold leased beyond those running, to start the moment a slot frees
   * (default 4 × concurrency; 0 turns it off). How many it really holds adapts: about what its
   * slots get through in two claim round trips, so slow handlers hold next to none.
   */
  prefetch?: number;
  /** Start claiming at once (default true). */
  autostart?: boolean;
  /**
   * Where store errors go when the worker has no `error` listener (default: a process warning,
   * at most one every 30 s). The worker never throws them: it retries on its own.
   */
  onError?: ErrorReporter;
}

export interface WorkerEvents<T> {
  active: [job: ActiveJob<T>];
  completed: [job: ActiveJob<T>, result: unknown];
  /** An attempt failed; `retryAt` is null when the job went dead. */
  failed: [job: ActiveJob<T>, error: Error, retryAt: number | null];
  dead: [job: ActiveJob<T>, error: Error];
  released: [job: ActiveJob<T>, delayMs: number];
  /** The lease was lost (expired and claimed elsewhere, or the job was cancelled): the outcome was not recorded. */
  leaseLost: [job: ActiveJob<T>];
  /**
   * A store call failed (claim, lease extension, recording an outcome, trim). The worker keeps
   * trying, backing off; a STORE_CLOSED error (the store was closed) stops its claiming instead.
   * With no listener the error goes to `onError` rather than being thrown.
   */
  error: [error: Error];
  closed: [];
}

const WORKER_OPTION_NAMES = new Set([
  "concurrency",
  "lease",
  "retention",
  "shutdownTimeout",
  "autostart",
  "prefetch",
  "onError",
]);

/**
 * Longest sleep between claims when nothing is due. Not what sets precision (wake-ups and the
 * next due time do): a safety net for a wake-up lost in transit (a dropped connection).
 */
const IDLE_RECHECK_MS = 5_000;
/** After a failed store call the worker waits this long, doubling per failure up to the cap. */
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5_000;
const TRIM_EVERY_MS = 1_000;

/** A job this worker holds a lease on: running, or held until a slot frees (prefetched). */
interface Running<T> {
  record: JobRecord;
  id: string;
  leaseToken: string;
  /** Made when the handler starts. */
  view: LeasedJob<T> | undefined;
  /** The claim's instant on the store's clock, and performance.now() when it came back. */
  claimedAt: number;
  claimedLocal: number;
  /** Local time of the last lease extension. */
  extendedAt: number;
  /** performance.now() by which the lease runs out unless extended (a little late, by one round trip). */
  leaseUntil: number;
  /** Given back at shutdown: whatever the handler does later is not recorded. */
  abandoned: boolean;
  /** The lease was lost while the job was held: it is dropped, not started. */
  lost: boolean;
}

/** Weight of the newest sample in the handler-time and round-trip averages. */
const EWMA_WEIGHT = 0.2;

/**
 * The consuming side of one queue. It sleeps until the next due instant the store reports, and
 * is woken earlier by the store when an earlier job arrives; it never polls on a fixed interval.
 * Due jobs are claimed in one batch of up to the free concurrency, each under a lease that a
 * heartbeat extends while the handler runs.
 */
export class Worker<T = unknown> extends EventEmitter<WorkerEvents<T>> {
  readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly retention: Retention | null;
  private readonly shutdownTimeoutMs: number;
  private readonly running = new Map<string, Running<T>>();
  /** Claimed jobs waiting for a slot, in claim (due) order. */
  private readonly held: Running<T>[] = [];
  private readonly prefetchMax: number;
  /** Averages that size the prefetch: handler run time and claim round trip, in ms. */
  private handlerMs = Number.NaN;
  private claimRttMs = Number.NaN;

  /** Handlers executing now. A slot frees when its handler returns, before the outcome is recorded. */
  private busy = 0;

  private started = false;
  private closing = false;
  private closed: Promise<void> | null = null;
  private claiming = false;
  private pumpAgain = false;
  private pumpQueued = false;
  /** The last claim was full: more may be due, claim again when a slot is free. */
  private backlog = false;
  private timer: NodeJS.Timeout | undefined;
  /** Earliest wake-up that arrived while a claim was in flight or every slot was busy. */
  private missedWake = Number.POSITIVE_INFINITY;
  /** Store-clock instant the timer is set for. */
  private wakeAt = Number.POSITIVE_INFINITY;
  /** Store clock minus local clock, as of the last claim. */
  private clockOffset = 0;
  private readonly clockEstimate = new ClockOffset();
  private heartbeat: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private lastTrim = 0;
  private idle: (() => void) | undefined;
  private readonly onError: ErrorReporter;
  /** Claims failed in a row, and performance.now() before which the next one must not go out. */
  private claimFailures = 0;
  private retryAt = 0;
  /** The store was closed by its owner: claiming stops for good. */
  private storeClosed = false;

  constructor(
    readonly queue: string,
    private readonly store: Store,
    private readonly handler: Handler<T>,
    options: WorkerOptions = {},
    private readonly limits: WorkerLimits = { maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES },
  ) {
    super();
    validateQueueName(queue);
    if (typeof handler !== "function") throw invalidOption("a worker needs a handler function");
    rejectUnknown(options, WORKER_OPTION_NAMES, "worker");
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 10_000) {
      throw invalidOption("concurrency must be an integer from 1 to 10000", { concurrency });
    }
    this.concurrency = concurrency;
    const prefetch = options.prefetch ?? concurrency * 4;
    if (!Number.isInteger(prefetch) || prefetch < 0 || prefetch > 100_000) {
      throw invalidOption("prefetch must be an integer from 0 to 100000", { prefetch });
    }
    this.prefetchMax = prefetch;
    this.leaseMs = parseDuration(options.lease ?? "30s", "lease");
    if (this.leaseMs < 100) throw invalidOption("lease must be at least 100ms");
    this.shutdownTimeoutMs = parseDuration(options.shutdownTimeout ?? "10s", "shutdownTimeout");
    this.retention = resolveRetention(options.retention);
    if (options.onError !== undefined && typeof options.onError !== "function") {
      throw invalidOption("onError must be a function");
    }
    this.onError = options.onError ?? warningReporter(`checkback worker ${JSON.stringify(queue)}`);
    if (options.autostart ?? true) this.start();
  }

  start(): void {
    if (this.started || this.closing) return;
    this.started = true;
    this.unsubscribe = this.store.subscribe(this.queue, (runAt) => this.onWake(runAt));
    void this.pump();
  }

  /** Jobs whose handlers are running now. */
  get activeCount(): number {
    return this.busy;
  }

  /**
   * Stops claiming, waits up to `timeout` for running handlers, then gives the rest back to
   * the queue (due at once, attempt not counted) and aborts their signals.
   */
  close(options: { timeout?: Duration } = {}): Promise<void> {
    this.closed ??= this.shutdown(parseDuration(options.timeout ?? this.shutdownTimeoutMs, "timeout"));
    return this.closed;
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    this.closing = true;
    this.unsubscribe?.();
    clearTimeout(this.timer);
    // Jobs held for a slot have not started: they go back at once, for any worker to take.
    const unstarted = this.held.splice(0);
    for (const run of unstarted) this.running.delete(run.id);
    await Promise.all(unstarted.map((run) => this.giveBack(run)));
    const drained = new Promise<void>((resolve) => {
      this.idle = resolve;
      this.checkIdle();
    });
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([drained, new Promise((resolve) => (timeout = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timeout);
    const leftovers = [...this.running.values()];
    await Promise.all(
      leftovers.map(async (run) => {
        run.abandoned = true;
        run.view?.abort(new Error("worker shutting down"));
        await this.giveBack(run);
        this.running.delete(run.id);
      }),
    );
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    this.emit("closed");
  }

  private giveBack(run: Running<T>): Promise<void> {
    return this.store.release(this.queue, run.id, run.leaseToken, { delayMs: 0 }).catch(() => {});
  }

  // --- claiming -------------------------------------------------------------------------

  private onWake(runAt: number): void {
    if (this.closing || this.storeClosed) return;
    if (this.claiming || this.room() <= 0) {
      // The claim in flight read the queue before this job existed, or no slot is free to run
      // it: remember it for when the claim returns or a slot frees.
      this.missedWake = Math.min(this.missedWake, runAt);
      return;
    }
    if (runAt < this.wakeAt) this.arm(runAt);
  }

  private arm(dueAt: number): void {
    clearTimeout(this.timer);
    this.wakeAt = dueAt;
    // Never sooner than a back-off after failed claims: a wake-up must not make it a hot loop.
    const delay = Math.max(
      Math.min(Math.max(0, dueAt - this.storeNow()), IDLE_RECHECK_MS),
      this.retryAt - performance.now(),
    );
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.wakeAt = Number.POSITIVE_INFINITY;
      void this.pump();
    }, delay);
  }

  private schedulePump(): void {
    if (this.pumpQueued || this.closing) return;
    this.pumpQueued = true;
    // Coalesces the many finishes of one tick into a single claim.
    setImmediate(() => {
      this.pumpQueued = false;
      void this.pump();
    });
  }

  /**
   * Jobs to claim now: free slots, plus what may be held ahead of them. The hold is sized to
   * what the slots get through in two claim round trips (handler time and round trip are
   * running averages), so fast handlers never wait a round trip for their next job, and slow
   * ones do not sit on jobs another worker could run.
   */
  private room(): number {
    let ahead = 0;
    if (this.prefetchMax > 0 && this.handlerMs >= 0 && this.claimRttMs >= 0) {
      ahead = Math.min(
        this.prefetchMax,
        Math.floor((this.concurrency * 2 * this.claimRttMs) / Math.max(this.handlerMs, 0.01)),
      );
    }
    return this.concurrency + ahead - this.busy - this.held.length;
  }

  /** A handler returned: its slot is free for the next due job while its outcome is recorded. */
  private slotFreed(): void {
    if (this.closing) return;
    this.beginHeld();
    if (this.backlog || this.busy === 0) {
      this.schedulePump();
      return;
    }
    const missed = this.missedWake;
    if (missed < this.wakeAt && !this.claiming) {
      this.missedWake = Number.POSITIVE_INFINITY;
      this.arm(missed);
    }
  }

  private async pump(): Promise<void> {
    if (this.closing || this.storeClosed) return;
    if (this.claiming) {
      this.pumpAgain = true;
      return;
    }
    if (this.retryAt > performance.now()) {
      // Backing off after a failed claim: the timer claims when the back-off ends.
      if (this.timer === undefined) this.arm(this.storeNow());
      return;
    }
    const limit = this.room();
    if (limit <= 0) {
      this.backlog = true;
      return;
    }
    this.claiming = true;
    // The claim reads the queue as it is now, so wake-ups until now are covered by it.
    this.missedWake = Number.POSITIVE_INFINITY;
    let claimed: ClaimResult | undefined;
    const sentAt = performance.now();
    try {
      claimed = await this.store.claimDue(this.queue, { limit, leaseMs: this.leaseMs });
      this.claimRttMs = average(this.claimRttMs, performance.now() - sentAt);
      this.claimFailures = 0;
      this.retryAt = 0;
    } catch (error) {
      this.claimFailed(asError(error));
    } finally {
      this.claiming = false;
    }
    if (claimed && this.closing) {
      // Claimed while close() began: nothing of it has started, so all of it goes back now.
      const { jobs, now } = claimed;
      const back = jobs.map((record) => this.take(record, now, 0, false));
      await Promise.all(back.map((run) => this.giveBack(run)));
      for (const run of back) this.running.delete(run.id);
      claimed = undefined;
    }
    if (claimed) {
      this.clockOffset = this.clockEstimate.note(claimed.now);
      const claimedLocal = performance.now();
      for (const record of claimed.jobs) this.take(record, claimed.now, claimedLocal);
      this.backlog = claimed.jobs.length === limit;
      const woken = this.missedWake;
      this.missedWake = Number.POSITIVE_INFINITY;
      if (this.backlog) {
        // Ask for the rest at once while these run: the next claim overlaps with their handlers.
        if (this.room() > 0) this.pumpAgain = true;
      } else if (!this.closing) {
        this.arm(Math.min(claimed.nextDueAt ?? claimed.now + IDLE_RECHECK_MS, woken));
      }
    }
    if (this.closing) this.checkIdle();
    else if (this.pumpAgain) {
      this.pumpAgain = false;
      this.schedulePump();
    }
  }

  /**
   * A claim failed. A closed store stops claiming (reported once); anything else is taken as
   * transient (the store is unreachable for now): the next claim waits, doubling per failure,
   * and the first one that succeeds resets it. The worker recovers by itself.
   */
  private claimFailed(error: Error): void {
    if (isStoreClosed(error)) {
      if (!this.storeClosed) this.report(error);
      this.storeClosed = true;
      clearTimeout(this.timer);
      return;
    }
    this.claimFailures += 1;
    const wait = backoffMs(this.claimFailures);
    this.retryAt = performance.now() + wait;
    this.report(error);
    if (!this.closing) this.arm(this.storeNow() + wait);
  }

  /** Store errors go to the `error` listeners if there are any, else to the reporter: never thrown. */
  private report(error: Error): void {
    if (this.listenerCount("error") > 0) this.emit("error", error);
    else this.onError(error);
  }

  // --- running one job ------------------------------------------------------------------

  /** A claimed job: started if a slot is free, else held for the next one (in claim order). */
  private take(record: JobRecord, claimedAt: number, claimedLocal: number, start = true): Running<T> {
    const run: Running<T> = {
      record,
      id: record.id,
      leaseToken: record.leaseToken!,
      view: undefined,
      claimedAt,
      claimedLocal,
      extendedAt: Date.now(),
      leaseUntil: claimedLocal + this.leaseMs,
      abandoned: false,
      lost: false,
    };
    this.running.set(run.id, run);
    if (!start) return run;
    this.ensureHeartbeat();
    if (this.held.length === 0 && this.busy < this.concurrency) this.begin(run);
    else this.held.push(run);
    return run;
  }

  /** Starts the next held job whose lease still holds, if any. */
  private beginHeld(): void {
    for (let run = this.held.shift(); run; run = this.held.shift()) {
      if (!run.lost) {
        this.begin(run);
        return;
      }
      this.running.delete(run.id);
      this.emit("leaseLost", new LeasedJob<T>(run.record, run.claimedAt));
    }
  }

  private begin(run: Running<T>): void {
    // On the store's clock: the claim's instant plus the time held since, so never before the
    // claim (and so never before the job was due), whatever the clock-offset estimate says.
    const view = new LeasedJob<T>(run.record, run.claimedAt + Math.floor(performance.now() - run.claimedLocal));
    run.view = view;
    this.busy++;
    this.emit("active", view);
    void this.execute(run, view);
  }

  private async execute(run: Running<T>, view: LeasedJob<T>): Promise<void> {
    let outcome: { ok: true; value: unknown } | { ok: false; error: Error };
    const startedAt = performance.now();
    try {
      outcome = { ok: true, value: await this.handler(view) };
    } catch (error) {
      outcome = { ok: false, error: asError(error) };
    }
    this.handlerMs = average(this.handlerMs, performance.now() - startedAt);
    this.busy--;
    this.slotFreed();
    try {
      if (!run.abandoned) await this.record(run, view, outcome);
    } finally {
      if (this.running.get(run.id) === run) this.running.delete(run.id);
      if (this.closing) this.checkIdle();
    }
  }

  /**
   * Records the outcome, retrying (with back-off) a store that failed while the lease still
   * holds: the heartbeat keeps extending it meanwhile. If the lease would run out first (or the
   * store is closed), the outcome is given up and reported; the job runs again once its lease
   * expires (at-least-once), so an outage loses no job, only repeats one.
   */
  private async record(
    run: Running<T>,
    view: LeasedJob<T>,
    outcome: { ok: true; value: unknown } | { ok: false; error: Error },
  ): Promise<void> {
    for (let failures = 1; ; failures++) {
      try {
        await this.settle(run, view, outcome);
        return;
      } catch (caught) {
        if (caught instanceof LeaseLostError) {
          this.emit("leaseLost", view);
          return;
        }
        const error = asError(caught);
        const wait = backoffMs(failures);
        if (isStoreClosed(error) || run.abandoned || performance.now() + wait >= run.leaseUntil) {
          const message = `job ${view.id}: outcome not recorded (${error.message}); it runs again when its lease expires`;
          const code = (error as { code?: unknown }).code;
          this.report(Object.assign(new Error(message, { cause: error }), typeof code === "string" ? { code } : {}));
          return;
        }
        this.report(error);
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  private async settle(
    run: Running<T>,
    view: LeasedJob<T>,
    handled: { ok: true; value: unknown } | { ok: false; error: Error },
  ) {
    // What the handler handed back, as JSON text for the store. An answer the store could not
    // keep as given (a value JSON cannot carry, or over the size limit) is a failed attempt with
    // that error, never silently recorded as something else.
    let outcome = handled;
    let text: string | null = null;
    if (outcome.ok) {
      try {
        text = encodeAnswer(outcome.value, this.limits.maxPayloadBytes);
      } catch (error) {
        outcome = { ok: false, error: asError(error) };
      }
    }
    if (outcome.ok && outcome.value instanceof RunLater) {
      const { delayMs } = outcome.value;
      await this.store.release(this.queue, view.id, view.leaseToken, {
        delayMs,
        ...(text === null ? {} : { payload: text }),
      });
      this.emit("released", view, delayMs);
      return;
    }
    if (outcome.ok && outcome.value instanceof CompleteWith) {
      const { result, enqueue } = outcome.value;
      await this.store.complete(this.queue, view.id, view.leaseToken, { result: text, enqueue });
      this.emit("completed", view, result);
      this.maybeTrim();
      return;
    }
    if (outcome.ok) {
      await this.store.complete(this.queue, view.id, view.leaseToken, { result: text });
      this.emit("completed", view, outcome.value);
      this.maybeTrim();
      return;
    }
    const exhausted = view.attempts >= view.maxAttempts;
    const delayMs = exhausted ? null : retryDelay(run.record.backoff, view.attempts);
    const after = await this.store.fail(this.queue, view.id, view.leaseToken, {
      error: failureMessage(outcome.error),
      retryDelayMs: delayMs,
    });
    this.emit("failed", view, outcome.error, exhausted ? null : after.runAt);
    if (exhausted) this.emit("dead", view, outcome.error);
  }

  // --- leases ---------------------------------------------------------------------------

  private ensureHeartbeat(): void {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(() => this.extendLeases(), Math.max(50, Math.floor(this.leaseMs / 3)));
  }

  private extendLeases(): void {
    if (this.running.size === 0) {
      clearInterval(this.heartbeat);
      this.heartbeat = undefined;
      return;
    }
    const due = Date.now() - this.leaseMs / 3;
    for (const run of this.running.values()) {
      if (run.extendedAt > due || run.abandoned) continue;
      run.extendedAt = Date.now();
      const sentAt = performance.now();
      this.store.extendLease(this.queue, run.id, run.leaseToken, this.leaseMs).then(
        () => {
          run.leaseUntil = Math.max(run.leaseUntil, sentAt + this.leaseMs);
        },
        (error) => {
          if (error instanceof LeaseLostError) {
            if (run.view) run.view.abort(error);
            else run.lost = true;
            return;
          }
          this.report(asError(error));
        },
      );
    }
  }

  // --- housekeeping ---------------------------------------------------------------------

  private maybeTrim(): void {
    if (!this.retention || Date.now() - this.lastTrim < TRIM_EVERY_MS) return;
    this.lastTrim = Date.now();
    this.store.trim(this.queue, this.retention).catch((error) => this.report(asError(error)));
  }

  private checkIdle(): void {
    if (this.idle && !this.claiming && this.running.size === 0) this.idle();
  }

  private storeNow(): number {
    return Date.now() + this.clockOffset;
  }
}

/**
 * The ActiveJob a handler gets. Its AbortController is made only when a handler reads `signal`
 * or the lease is lost: most handlers never look, and one controller per job is a measurable
 * share of the worker's cost at tens of thousands of jobs per second.
 */
class LeasedJob<T> implements ActiveJob<T> {
  readonly id: string;
  readonly queue: string;
  readonly key: string | null;
  readonly payload: T;
  readonly state: Job<T>["state"];
  readonly runAt: number;
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly errors: Job<T>["errors"];
  readonly result: unknown;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly leaseToken: string;
  private controller: AbortController | undefined;

  constructor(
    record: JobRecord,
    readonly startedAt: number,
  ) {
    const job = toJob<T>(record);
    this.id = job.id;
    this.queue = job.queue;
    this.key = job.key;
    this.payload = job.payload;
    this.state = job.state;
    this.runAt = job.runAt;
    this.attempts = job.attempts;
    this.maxAttempts = job.maxAttempts;
    this.errors = job.errors;
    this.result = job.result;
    this.createdAt = job.createdAt;
    this.updatedAt = job.updatedAt;
    this.leaseToken = record.leaseToken!;
  }

  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }

  abort(reason: Error): void {
    this.controller ??= new AbortController();
    this.controller.abort(reason);
  }
}

function average(current: number, sample: number): number {
  return Number.isNaN(current) ? sample : current + EWMA_WEIGHT * (sample - current);
}

function resolveRetention(option: WorkerOptions["retention"]): Retention | null {
  if (option === false) return null;
  if (option === undefined) return { keepLast: 1000 };
  if (typeof option !== "object" || option === null) throw invalidOption("retention must be an object or false");
  rejectUnknown(option, new Set(["keepLast", "maxAge"]), "retention");
  const retention: Retention = {};
  if (option.keepLast !== undefined) {
    if (!Number.isInteger(option.keepLast) || option.keepLast < 0)
      throw invalidOption("retention.keepLast must be an integer ≥ 0");
    retention.keepLast = option.keepLast;
  }
  if (option.maxAge !== undefined) retention.maxAgeMs = parseDuration(option.maxAge, "retention.maxAge");
  return retention;
}

/**
 * A handler's answer as JSON text: the payload a RunLater brings back (null: keep the payload),
 * or the result to complete with (null: the handler returned nothing). Throws the payload rules'
 * typed error for a value JSON cannot carry or one over the limit.
 */
function encodeAnswer(value: unknown, maxBytes: number): string | null {
  if (value instanceof RunLater) {
    return value.payload === undefined ? null : serializePayload(value.payload, maxBytes, "later() payload");
  }
  const result = value instanceof CompleteWith ? value.result : value;
  return result === undefined ? null : serializePayload(result, maxBytes, "result");
}

/** Wait before the next try after `failures` failures in a row: 100 ms doubling, at most 5 s. */
function backoffMs(failures: number): number {
  return Math.min(RETRY_FIRST_MS * 2 ** Math.min(failures - 1, 16), RETRY_MAX_MS);
}

function isStoreClosed(error: Error): boolean {
  return error instanceof CheckbackError && error.code === "STORE_CLOSED";
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
