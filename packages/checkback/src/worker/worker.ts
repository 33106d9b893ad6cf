import { EventEmitter } from "node:events";
import { ClockOffset } from "../core/clock-offset.js";
import { type Duration, parseDuration } from "../core/duration.js";
import { CheckbackError, invalidOption, LeaseLostError } from "../core/errors.js";
import type { JobRecord } from "../core/job.js";
import { validateQueueName } from "../core/options.js";
import { DEFAULT_MAX_PAYLOAD_BYTES } from "../core/payload.js";
import { releaseJob } from "../flow/slow-down.js";
import type { ClaimResult, Retention, Store } from "../stores/store.js";
import { type CounterName, METRIC_NAMES, type MetricLabels, type MetricsHook } from "../telemetry/metrics.js";
import { type JobTracing, jobTracing } from "../telemetry/tracing.js";
import type { ErrorReporter } from "./error-report.js";
import { type ActiveJob, LeasedJob } from "./leased-job.js";
import { resolveWorkerOptions, type WorkerLimits, type WorkerOptions } from "./options.js";
import { decideOutcome, type Handled, type Outcome } from "./outcome.js";

export type Handler<T> = (job: ActiveJob<T>) => unknown;

export interface WorkerEvents<T> {
  active: [job: ActiveJob<T>];
  completed: [job: ActiveJob<T>, result: unknown];
  /** An attempt failed; `retryAt` is null when the job went dead. */
  attemptFailed: [job: ActiveJob<T>, error: Error, retryAt: number | null];
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
interface Leased<T> {
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
  /** Every job this worker holds a lease on, by id: running or held. */
  private readonly leased = new Map<string, Leased<T>>();
  /** Claimed jobs waiting for a slot, in claim (due) order. */
  private readonly held: Leased<T>[] = [];
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
  /** Null without @opentelemetry/api: then no job pays for tracing (telemetry/tracing.ts). */
  private readonly tracing: JobTracing | null = jobTracing();
  private readonly metrics: MetricsHook | undefined;
  /** One labels object for every sample of this worker: no allocation per job. */
  private readonly labels: MetricLabels;

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
    const resolved = resolveWorkerOptions(queue, options);
    this.concurrency = resolved.concurrency;
    this.prefetchMax = resolved.prefetchMax;
    this.leaseMs = resolved.leaseMs;
    this.shutdownTimeoutMs = resolved.shutdownTimeoutMs;
    this.retention = resolved.retention;
    this.onError = resolved.onError;
    this.metrics = resolved.metrics;
    this.labels = Object.freeze({ queue, delivery: "worker" });
    if (resolved.autostart) this.start();
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
    for (const lease of unstarted) this.leased.delete(lease.id);
    await Promise.all(unstarted.map((lease) => this.releaseLease(lease)));
    const drained = new Promise<void>((resolve) => {
      this.idle = resolve;
      this.checkIdle();
    });
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([drained, new Promise((resolve) => (timeout = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timeout);
    const leftovers = [...this.leased.values()];
    await Promise.all(
      leftovers.map(async (lease) => {
        lease.abandoned = true;
        lease.view?.abort(new Error("worker shutting down"));
        await this.releaseLease(lease);
        this.leased.delete(lease.id);
      }),
    );
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    this.emit("closed");
  }

  /** Releases a job this worker will not run (shutdown): due again at once, no attempt spent. */
  private releaseLease(lease: Leased<T>): Promise<void> {
    return this.store.release(this.queue, lease.id, lease.leaseToken, { delayMs: 0 }).catch(() => {});
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
   * ones do not sit on jobs another worker could lease.
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
      await Promise.all(back.map((lease) => this.releaseLease(lease)));
      for (const lease of back) this.leased.delete(lease.id);
      claimed = undefined;
    }
    if (claimed) {
      this.clockOffset = this.clockEstimate.note(claimed.now);
      const claimedLocal = performance.now();
      for (const record of claimed.jobs) this.take(record, claimed.now, claimedLocal);
      if (claimed.jobs.length > 0) {
        this.metrics?.increment(METRIC_NAMES.claimed, this.labels, claimed.jobs.length);
        this.tracing?.claimed(this.queue, sentAt, claimed.jobs.length);
      }
      this.backlog = claimed.jobs.length === limit;
      const woken = this.missedWake;
      this.missedWake = Number.POSITIVE_INFINITY;
      if (this.backlog) {
        // Ask for the rest at once while these lease: the next claim overlaps with their handlers.
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
  private take(record: JobRecord, claimedAt: number, claimedLocal: number, start = true): Leased<T> {
    const lease: Leased<T> = {
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
    this.leased.set(lease.id, lease);
    if (!start) return lease;
    this.ensureHeartbeat();
    if (this.held.length === 0 && this.busy < this.concurrency) this.begin(lease);
    else this.held.push(lease);
    return lease;
  }

  /** Starts the next held job whose lease still holds, if any. */
  private beginHeld(): void {
    for (let lease = this.held.shift(); lease; lease = this.held.shift()) {
      if (!lease.lost) {
        this.begin(lease);
        return;
      }
      this.leased.delete(lease.id);
      this.count(METRIC_NAMES.leaseLosses);
      this.emit("leaseLost", new LeasedJob<T>(lease.record, lease.claimedAt));
    }
  }

  private begin(lease: Leased<T>): void {
    // On the store's clock: the claim's instant plus the time held since, so never before the
    // claim (and so never before the job was due), whatever the clock-offset estimate says.
    const view = new LeasedJob<T>(lease.record, lease.claimedAt + Math.floor(performance.now() - lease.claimedLocal));
    lease.view = view;
    this.busy++;
    this.metrics?.observe(METRIC_NAMES.lateness, this.labels, Math.max(0, view.startedAt - view.runAt) / 1000);
    this.emit("active", view);
    if (this.tracing)
      this.tracing.process(view, lease.record.payload, "checkback.process", () => this.execute(lease, view));
    else void this.execute(lease, view);
  }

  private async execute(lease: Leased<T>, view: LeasedJob<T>): Promise<void> {
    let handled: Handled;
    const startedAt = performance.now();
    try {
      handled = { ok: true, value: await this.handler(view) };
    } catch (error) {
      handled = { ok: false, error: asError(error) };
    }
    this.handlerMs = average(this.handlerMs, performance.now() - startedAt);
    const outcome = lease.abandoned ? null : decideOutcome(lease.record, handled, this.limits.maxPayloadBytes);
    // A slowDown pauses the group (or queue) before this slot is free again: freed first, its
    // next claim could start another of the group's jobs before the pause is kept.
    const pausing = outcome?.kind === "release" && (outcome.pauseQueue === true || outcome.pauseGroup === true);
    const free = () => {
      this.busy--;
      this.slotFreed();
    };
    if (!pausing) free();
    try {
      if (outcome) await this.record(lease, view, outcome);
    } finally {
      if (pausing) free();
      if (this.leased.get(lease.id) === lease) this.leased.delete(lease.id);
      if (this.closing) this.checkIdle();
    }
  }

  /**
   * Records the outcome, retrying (with back-off) a store that failed while the lease still
   * holds: the heartbeat keeps extending it meanwhile. If the lease would run out first (or the
   * store is closed), the outcome is given up and reported; the job runs again once its lease
   * expires (at-least-once), so an outage loses no job, only repeats one.
   */
  private async record(lease: Leased<T>, view: LeasedJob<T>, outcome: Outcome): Promise<void> {
    for (let failures = 1; ; failures++) {
      try {
        await this.recordOutcome(view, outcome, lease.record.payload);
        return;
      } catch (caught) {
        if (caught instanceof LeaseLostError) {
          this.count(METRIC_NAMES.leaseLosses);
          this.emit("leaseLost", view);
          return;
        }
        const error = asError(caught);
        const wait = backoffMs(failures);
        if (isStoreClosed(error) || lease.abandoned || performance.now() + wait >= lease.leaseUntil) {
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

  /** One try at recording an attempt's outcome (decided by the outcome rule), then its event. */
  private recordOutcome(view: LeasedJob<T>, outcome: Outcome, storedPayload: string): Promise<void> {
    if (!this.tracing) return this.storeOutcome(view, outcome);
    const traced = this.tracing.carry(outcome, storedPayload);
    const cause = traced.kind === "fail" ? traced.cause : undefined;
    return this.tracing.step(traced.kind, view, cause, () => this.storeOutcome(view, traced));
  }

  private async storeOutcome(view: LeasedJob<T>, outcome: Outcome): Promise<void> {
    switch (outcome.kind) {
      case "release":
        await releaseJob(this.store, this.queue, view.id, view.leaseToken, outcome, {
          group: view.group,
          onRefused: (refused) => this.report(refused),
        });
        this.emit("released", view, outcome.delayMs);
        return;
      case "complete":
        await this.store.complete(this.queue, view.id, view.leaseToken, outcome);
        this.count(METRIC_NAMES.completed);
        this.emit("completed", view, outcome.value);
        this.maybeTrim();
        return;
      case "fail": {
        const after = await this.store.fail(this.queue, view.id, view.leaseToken, outcome);
        const dead = outcome.retryDelayMs === null;
        this.count(dead ? METRIC_NAMES.deadLetters : METRIC_NAMES.retries);
        this.emit("attemptFailed", view, outcome.cause, dead ? null : after.runAt);
        if (dead) this.emit("dead", view, outcome.cause);
      }
    }
  }

  // --- leases ---------------------------------------------------------------------------

  private ensureHeartbeat(): void {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(() => this.extendLeases(), Math.max(50, Math.floor(this.leaseMs / 3)));
  }

  private extendLeases(): void {
    if (this.leased.size === 0) {
      clearInterval(this.heartbeat);
      this.heartbeat = undefined;
      return;
    }
    const due = Date.now() - this.leaseMs / 3;
    for (const lease of this.leased.values()) {
      if (lease.extendedAt > due || lease.abandoned) continue;
      lease.extendedAt = Date.now();
      const sentAt = performance.now();
      this.store.extendLease(this.queue, lease.id, lease.leaseToken, this.leaseMs).then(
        () => {
          lease.leaseUntil = Math.max(lease.leaseUntil, sentAt + this.leaseMs);
        },
        (error) => {
          if (error instanceof LeaseLostError) {
            if (lease.view) lease.view.abort(error);
            else lease.lost = true;
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
    if (this.idle && !this.claiming && this.leased.size === 0) this.idle();
  }

  private count(name: CounterName): void {
    this.metrics?.increment(name, this.labels, 1);
  }

  private storeNow(): number {
    return Date.now() + this.clockOffset;
  }
}

function average(current: number, sample: number): number {
  return Number.isNaN(current) ? sample : current + EWMA_WEIGHT * (sample - current);
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
