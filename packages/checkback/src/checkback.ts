import { Check } from "./checks/check.js";
import type { CheckDefinition } from "./checks/types.js";
import { InvalidStateError, invalidOption } from "./core/errors.js";
import { type JobDefaults, rejectUnknown, validateQueueName } from "./core/options.js";
import { DEFAULT_MAX_PAYLOAD_BYTES } from "./core/payload.js";
import { Queue } from "./queue/queue.js";
import type { Firing, ScheduleDefinition } from "./scans/index.js";
import { Schedules } from "./scans/schedules.js";
import { Sweep } from "./scans/sweep.js";
import type { SweepDefinition } from "./scans/sweep-types.js";
import { openStore } from "./stores/open-store.js";
import type { Store } from "./stores/store.js";
import type { MetricsHook } from "./telemetry/metrics.js";
import type { ErrorReporter } from "./worker/error-report.js";
import { validateMetricsHook, type WorkerOptions } from "./worker/options.js";
import { type Handler, Worker } from "./worker/worker.js";

export interface CheckbackOptions {
  /**
   * A Store, or a store URL: "sqlite:./checkback.db" (the default), "memory:",
   * "redis://127.0.0.1:6379", "postgres://…".
   */
  store?: Store | string;
  /** Largest serialized payload accepted, in bytes (default 256 KiB). */
  maxPayloadBytes?: number;
  /** Defaults for every job added through this instance (attempts, backoff). */
  defaults?: JobDefaults;
  /**
   * Where the store errors of this instance's workers (and checks' workers) go when a worker
   * has no `error` listener; a worker's own `onError` option wins. Default: a process warning,
   * at most one every 30 s per worker.
   */
  onError?: ErrorReporter;
  /**
   * Where the metrics of this instance's workers and checks go (lateness, claims, completions,
   * retries, dead letters, lease losses, check outcomes), under the server's metric names; a
   * worker's own `metrics` option wins. See docs/observability.md.
   */
  metrics?: MetricsHook;
}

const OPTION_NAMES = new Set(["store", "maxPayloadBytes", "defaults", "onError", "metrics"]);

/**
 * One checkback instance: a store plus the queues and workers opened on it. Closing it
 * closes its workers (gracefully) and then the store.
 */
export class Checkback {
  readonly store: Store;
  private readonly maxPayloadBytes: number;
  private readonly defaults: JobDefaults;
  private readonly onError: ErrorReporter | undefined;
  private readonly metrics: MetricsHook | undefined;
  private readonly workers = new Set<{ close(): Promise<void> }>();
  private readonly checkNames = new Set<string>();
  private scheduleApi: Schedules | undefined;

  constructor(options: CheckbackOptions = {}) {
    rejectUnknown(options, OPTION_NAMES, "checkback");
    const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    if (!Number.isInteger(maxPayloadBytes) || maxPayloadBytes < 2) {
      throw invalidOption("maxPayloadBytes must be an integer ≥ 2", { maxPayloadBytes });
    }
    this.maxPayloadBytes = maxPayloadBytes;
    this.defaults = options.defaults ?? {};
    if (options.onError !== undefined && typeof options.onError !== "function") {
      throw invalidOption("onError must be a function");
    }
    this.onError = options.onError;
    this.metrics = validateMetricsHook(options.metrics);
    this.store = typeof options.store === "object" ? options.store : openStore(options.store);
  }

  queue<T = unknown>(name: string, defaults?: JobDefaults): Queue<T> {
    return new Queue<T>(validateQueueName(name), this.store, {
      maxPayloadBytes: this.maxPayloadBytes,
      defaults: { ...this.defaults, ...defaults },
    });
  }

  worker<T = unknown>(name: string, handler: Handler<T>, options?: WorkerOptions): Worker<T> {
    const worker = new Worker<T>(name, this.store, handler, this.withReporter(options), {
      maxPayloadBytes: this.maxPayloadBytes,
    });
    this.workers.add(worker);
    worker.once("closed", () => this.workers.delete(worker));
    return worker;
  }

  /**
   * Defines a delayed check. Its worker (probes and outcome handlers) starts at once unless
   * `definition.worker` is false, and closes with this instance. One definition per name.
   */
  check<I = unknown, R = unknown>(name: string, definition: CheckDefinition<I, R>): Check<I, R> {
    if (this.checkNames.has(name)) throw new InvalidStateError(`check ${JSON.stringify(name)} is already defined here`);
    const check = new Check<I, R>(name, this.store, definition, {
      maxPayloadBytes: this.maxPayloadBytes,
      onError: this.onError,
      metrics: this.metrics,
    });
    this.checkNames.add(name);
    const worker = check.worker;
    if (worker) {
      this.workers.add(worker);
      worker.once("closed", () => this.workers.delete(worker));
    }
    return check;
  }

  /** Defines a sweep; its runner and item worker run while this instance is open (unless `worker: false`). */
  sweep<T = unknown>(name: string, definition: SweepDefinition<T>): Sweep<T> {
    const sweep = new Sweep<T>(name, this.store, definition, {
      maxPayloadBytes: this.maxPayloadBytes,
      onError: this.onError,
    });
    this.workers.add(sweep);
    return sweep;
  }

  /** Schedules, durable in the store: define, pause, resume, remove, trigger, list (scans/). */
  get schedules(): Schedules {
    this.scheduleApi ??= new Schedules(this.store, {
      maxPayloadBytes: this.maxPayloadBytes,
      openWorker: (queue, handler, options) => this.worker(queue, handler, options),
    });
    return this.scheduleApi;
  }

  /** Defines a schedule and handles its firings here (a worker on its queue, closed with this instance). */
  schedule<T = unknown>(
    name: string,
    definition: ScheduleDefinition<T>,
    handler: Handler<Firing<T>>,
    options?: WorkerOptions,
  ): Promise<Worker<Firing<T>>> {
    return this.schedules.run(name, definition, handler, options);
  }

  private withReporter(options: WorkerOptions | undefined): WorkerOptions | undefined {
    if ((!this.onError || options?.onError) && (!this.metrics || options?.metrics)) return options;
    return {
      ...options,
      ...(this.onError && !options?.onError ? { onError: this.onError } : {}),
      ...(this.metrics && !options?.metrics ? { metrics: this.metrics } : {}),
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.workers].map((worker) => worker.close()));
    await this.store.close();
  }
}

export function createCheckback(options?: CheckbackOptions): Checkback {
  return new Checkback(options);
}
