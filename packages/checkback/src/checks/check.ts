import { describeValue } from "../core/describe.js";
import { invalidOption, JobNotFoundError } from "../core/errors.js";
import { parsePayload, serializePayload } from "../core/payload.js";
import { carryTrace } from "../core/trace-mark.js";
import type { RateLimit } from "../flow/rate-limit.js";
import type { NewJob, Store } from "../stores/store.js";
import { METRIC_NAMES, type MetricsHook } from "../telemetry/metrics.js";
import { jobTracing, TRACE_ATTRIBUTES } from "../telemetry/tracing.js";
import { type ErrorReporter, warningReporter } from "../worker/error-report.js";
import type { ActiveJob } from "../worker/leased-job.js";
import { Worker } from "../worker/worker.js";
import { type ResolvedDefinition, resolveDefinition } from "./definition.js";
import {
  type CheckJobPayload,
  checkJobKey,
  checkQueueName,
  type Ending,
  newProbeJob,
  type OutcomePayload,
  outcomeJobKey,
  type ProbePayload,
} from "./jobs.js";
import { deliverOutcome, newOutcomeJob, outcomeOf } from "./outcome.js";
import { probeRunner } from "./runner.js";
import { intervalAfter } from "./schedule.js";
import { statusOf } from "./status.js";
import type { CheckDefinition, CheckStatus, Started } from "./types.js";

export interface CheckSettings {
  maxPayloadBytes: number;
  /** The instance's reporter for store errors, unless the check's worker options name one. */
  onError?: ErrorReporter | undefined;
  /** The instance's metrics hook, unless the check's worker options name one. */
  metrics?: MetricsHook | undefined;
}

/**
 * A delayed check: started per business key, probed on its schedule until the probe gives a
 * terminal answer, the schedule or deadline runs out, or someone resolves it from outside;
 * whichever comes first wins, once, and its outcome is handed to the handlers as a durable job.
 */
export class Check<I = unknown, R = unknown> {
  /** The internal queue holding this check's jobs (its dead letters are outcome deliveries that gave up). */
  readonly queueName: string;
  /** The worker probing and delivering outcomes in this process, or null (`worker: false`). */
  readonly worker: Worker<CheckJobPayload<I, R>> | null;
  private readonly definition: ResolvedDefinition<I, R>;

  constructor(
    readonly name: string,
    private readonly store: Store,
    definition: CheckDefinition<I, R>,
    private readonly settings: CheckSettings,
  ) {
    this.queueName = checkQueueName(name);
    this.definition = resolveDefinition(definition);
    this.probeRateKept = this.keepProbeRate();
    this.worker = this.definition.worker === false ? null : this.openWorker(this.definition.worker);
  }

  /** Settles once the definition's probe rate is kept by the store (at once without one). */
  readonly probeRateKept: Promise<void>;

  /**
   * The definition's probe rate becomes the check queue's rate limit in the store — or, for a
   * check with a group, the rate of that group's own limits — shared by every process running
   * the check. A store that refuses it (a partitioned Redis) is reported, not thrown: the check
   * still runs, unlimited.
   */
  private keepProbeRate(): Promise<void> {
    const { probeRate, group } = this.definition;
    if (probeRate === undefined) return Promise.resolve();
    const kept =
      group === null ? this.store.setRateLimit(this.queueName, probeRate) : this.keepGroupRate(group, probeRate);
    return kept.catch((error: unknown) => {
      const report = this.settings.onError ?? warningReporter(`check ${this.name}`);
      report(error instanceof Error ? error : new Error(String(error)));
    });
  }

  /**
   * The probe rate as the group's own rate limit. The concurrency in force (the group's own, or
   * the queue's default for groups) is kept beside it: the definition says how fast, not how
   * many at once. A null rate lifts the group's own limits only when nothing else is left in them.
   */
  private async keepGroupRate(group: string, probeRate: RateLimit | null): Promise<void> {
    const { ownLimits, limits } = await this.store.groupState(this.queueName, group);
    if (probeRate === null && !ownLimits) return;
    const { concurrency } = limits;
    const own = probeRate === null && concurrency === null ? null : { concurrency, limit: probeRate };
    await this.store.setGroupLimits(this.queueName, group, own);
  }

  /**
   * Starts the check for `key` unless one is running for it already (then that one is returned,
   * with `created: false`, and `input` is ignored). A key whose check has ended can be started again.
   */
  async start(key: string, input: I): Promise<Started<I, R>> {
    const payload: ProbePayload<I> = { kind: "probe", input, probes: 0, history: [] };
    const text = serializePayload(payload, this.settings.maxPayloadBytes);
    const { deadlineMs, schedule } = this.definition;
    const firstDelayMs = Math.min(intervalAfter(schedule, 0)!, deadlineMs ?? Number.POSITIVE_INFINITY);
    const jobs = [newProbeJob(this.queueName, key, text, firstDelayMs, this.definition.group)];
    const tracing = jobTracing();
    const add = (marked: NewJob[]) => this.store.add(marked);
    const [added] = tracing ? await tracing.add(this.queueName, jobs, add) : await add(jobs);
    const { job, outcome } = added!;
    return { ...statusOf<I, R>(this.name, deadlineMs, job, null), created: outcome === "created" };
  }

  /**
   * Ends the running check for `key` as done with `result` (the other party's own notification
   * arrived). True if this call ended it; false if it had already ended (by a probe, the
   * schedule, an earlier resolve, or cancel). Throws JobNotFoundError if no check has the key.
   */
  resolve(key: string, result: R): Promise<boolean> {
    return this.endFromOutside(key, { state: "done", result, reason: null, endedBy: "resolve" });
  }

  /** Ends the running check for `key` as failed with `reason`, like resolve. */
  async reject(key: string, reason: string): Promise<boolean> {
    if (typeof reason !== "string") throw invalidOption("reject needs a reason string", { reason });
    return this.endFromOutside(key, { state: "failed", result: null, reason, endedBy: "reject" });
  }

  /** Stops the running check for `key` without an outcome. True if this call stopped it. */
  async cancel(key: string): Promise<boolean> {
    const { job, changed } = await this.store.cancel(this.queueName, { key: checkJobKey(key) });
    if (!job) throw this.notFound(key);
    return changed;
  }

  /** The check for `key`: the running one, else the last one that ended (while retained); null if none. */
  async status(key: string): Promise<CheckStatus<I, R> | null> {
    const job = await this.store.getByKey(this.queueName, checkJobKey(key));
    if (!job) return null;
    const outcomeJob =
      job.state === "completed" ? await this.store.getByKey(this.queueName, outcomeJobKey(job.id)) : null;
    return statusOf<I, R>(this.name, this.definition.deadlineMs, job, outcomeJob);
  }

  /** Stops this check's worker (running probes get `shutdownTimeout` to finish). */
  async close(): Promise<void> {
    await this.worker?.close();
  }

  private async endFromOutside(key: string, ending: Ending<R>): Promise<boolean> {
    const result = serializePayload(ending, this.settings.maxPayloadBytes);
    const job = await this.store.getByKey(this.queueName, checkJobKey(key));
    if (!job) throw this.notFound(key);
    if (job.state !== "scheduled" && job.state !== "active") return false;
    const { input, probes } = parsePayload<ProbePayload<I>>(job.payload);
    const outcome = outcomeOf(ending, { checkId: job.id, key, input, probes });
    // By id, not key: if this run ended meanwhile and the key was started again, the new run
    // must not be ended by a notification meant for the old one.
    const outcomeJob = newOutcomeJob(this.queueName, this.definition, outcome);
    // The outcome continues the check's trace, whoever ended it.
    outcomeJob.payload = carryTrace(job.payload, outcomeJob.payload);
    const settled = await this.store.settle(this.queueName, { id: job.id }, { result, enqueue: [outcomeJob] });
    return settled.changed;
  }

  private openWorker(options: ConstructorParameters<typeof Worker>[3]): Worker<CheckJobPayload<I, R>> {
    const runProbe = probeRunner(this.name, this.queueName, this.definition);
    const handle = (job: ActiveJob<CheckJobPayload<I, R>>) =>
      job.payload.kind === "outcome"
        ? deliverOutcome(this.name, this.definition, job as ActiveJob<OutcomePayload<I, R>>)
        : runProbe(job as ActiveJob<ProbePayload<I>>);
    const tracing = jobTracing();
    const worker = new Worker<CheckJobPayload<I, R>>(
      this.queueName,
      this.store,
      tracing
        ? (job) =>
            tracing.around(
              job.payload.kind === "outcome" ? "checkback.check.outcome" : "checkback.check.probe",
              { [TRACE_ATTRIBUTES.check]: this.name, [TRACE_ATTRIBUTES.jobId]: job.id },
              async () => handle(job),
            )
        : handle,
      // Store errors and metrics go to the instance's reporter and hook, unless the worker names its own.
      {
        ...options,
        ...(this.settings.onError && !options?.onError ? { onError: this.settings.onError } : {}),
        ...(this.settings.metrics && !options?.metrics ? { metrics: this.settings.metrics } : {}),
      },
      { maxPayloadBytes: this.settings.maxPayloadBytes },
    );
    const metrics = options?.metrics ?? this.settings.metrics;
    if (metrics) {
      worker.on("completed", (job) => {
        if (job.payload.kind !== "outcome") return;
        const outcome = job.payload.outcome.state;
        metrics.increment(METRIC_NAMES.checkOutcomes, { check: this.name, outcome }, 1);
      });
    }
    return worker;
  }

  private notFound(key: string): JobNotFoundError {
    return new JobNotFoundError(`check ${this.name} key ${describeValue(key)}`);
  }
}
