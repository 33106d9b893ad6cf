import { JOB_STATES } from "../core/job.js";
import type { Store } from "../stores/store.js";

/**
 * The library's metrics, named as the server's Prometheus metrics are (the server feeds its
 * /metrics from this same hook), so a dashboard built on one works on the other.
 *
 * Labels: `queue` and `delivery` ("worker" for a library worker; the server says "push" for
 * its push workers and "pull" for claims over HTTP), `check` and `outcome` for check outcomes.
 */
export const METRIC_NAMES = {
  /** Histogram, seconds: how long after its due instant a job was handed to its handler. */
  lateness: "checkback_job_lateness_seconds",
  /** Counter: jobs claimed (each attempt counts). */
  claimed: "checkback_jobs_claimed_total",
  completed: "checkback_jobs_completed_total",
  /** Counter: failed attempts scheduled to run again. */
  retries: "checkback_job_retries_total",
  /** Counter: failed attempts that were the last: the job went dead. */
  deadLetters: "checkback_dead_letters_total",
  /** Counter: leases lost while running or held (expired and claimed elsewhere, or cancelled). */
  leaseLosses: "checkback_lease_losses_total",
  /** Counter, labels `check` and `outcome` (done, failed, gave_up): outcomes handed to their handlers. */
  checkOutcomes: "checkback_check_outcomes_total",
  /** Gauge, labels `queue` and `state`: jobs as the store holds them, read when collected. */
  jobs: "checkback_jobs",
} as const;

export type CounterName =
  | typeof METRIC_NAMES.claimed
  | typeof METRIC_NAMES.completed
  | typeof METRIC_NAMES.retries
  | typeof METRIC_NAMES.deadLetters
  | typeof METRIC_NAMES.leaseLosses
  | typeof METRIC_NAMES.checkOutcomes;

export type HistogramName = typeof METRIC_NAMES.lateness;

/** Label values of one sample. The same object may be passed many times: read it, never change it. */
export type MetricLabels = Readonly<Record<string, string>>;

/**
 * Where a Checkback instance (`createCheckback({ metrics })`) or a worker (`metrics` option)
 * sends its samples. Both calls are synchronous and on the job path: keep them cheap.
 */
export interface MetricsHook {
  increment(name: CounterName, labels: MetricLabels, by: number): void;
  /** A histogram sample, in seconds. */
  observe(name: HistogramName, labels: MetricLabels, value: number): void;
}

/** A hook whose samples all carry `delivery` (the server's push workers say "push"). */
export function withDelivery(hook: MetricsHook, delivery: string): MetricsHook {
  return {
    increment: (name, labels, by) => hook.increment(name, "delivery" in labels ? { ...labels, delivery } : labels, by),
    observe: (name, labels, value) => hook.observe(name, { ...labels, delivery }, value),
  };
}

/**
 * The part of an OpenTelemetry `Meter` that otelMetrics uses, written out so the library's
 * types do not name @opentelemetry/api (an optional peer): pass `metrics.getMeter("…")`.
 */
export interface MeterLike {
  createCounter(
    name: string,
    options?: { description?: string; unit?: string },
  ): {
    add(value: number, attributes?: Record<string, string>): void;
  };
  createHistogram(
    name: string,
    options?: { description?: string; unit?: string },
  ): {
    record(value: number, attributes?: Record<string, string>): void;
  };
  createObservableGauge(
    name: string,
    options?: { description?: string; unit?: string },
  ): {
    addCallback(
      callback: (result: { observe(value: number, attributes?: Record<string, string>): void }) => Promise<void> | void,
    ): void;
  };
}

/**
 * A MetricsHook writing OpenTelemetry instruments on `meter`, under the same names. With a
 * store, the `checkback_jobs` gauge is observed too (one counts() per queue at each collection).
 */
export function otelMetrics(meter: MeterLike, options: { store?: Store } = {}): MetricsHook {
  const counters = new Map<string, ReturnType<MeterLike["createCounter"]>>();
  const lateness = meter.createHistogram(METRIC_NAMES.lateness, {
    unit: "s",
    description: "How long after its due instant a job was handed to its handler",
  });
  const { store } = options;
  if (store) {
    const gauge = meter.createObservableGauge(METRIC_NAMES.jobs, { description: "Jobs by queue and state" });
    gauge.addCallback(async (result) => {
      const queues = await store.queues();
      const counts = await Promise.all(queues.map((queue) => store.counts(queue)));
      queues.forEach((queue, i) => {
        for (const state of JOB_STATES) result.observe(counts[i]![state], { queue, state });
      });
    });
  }
  return {
    increment(name, labels, by) {
      let counter = counters.get(name);
      if (!counter) {
        counter = meter.createCounter(name);
        counters.set(name, counter);
      }
      counter.add(by, labels);
    },
    observe(_name, labels, value) {
      lateness.record(value, labels);
    },
  };
}
