import { type Duration, parseDuration } from "../core/duration.js";
import { invalidOption } from "../core/errors.js";
import { rejectUnknown } from "../core/options.js";
import type { Retention } from "../stores/store.js";
import type { MetricsHook } from "../telemetry/metrics.js";
import { type ErrorReporter, warningReporter } from "./error-report.js";

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
  /** Where the worker's metrics go (docs/observability.md); a Checkback instance passes its own. */
  metrics?: MetricsHook;
}

/** WorkerOptions checked, with their defaults filled in. */
export interface ResolvedWorkerOptions {
  concurrency: number;
  prefetchMax: number;
  leaseMs: number;
  shutdownTimeoutMs: number;
  /** Null: keep every completed and cancelled job. */
  retention: Retention | null;
  onError: ErrorReporter;
  autostart: boolean;
  metrics: MetricsHook | undefined;
}

const WORKER_OPTION_NAMES = new Set([
  "concurrency",
  "lease",
  "retention",
  "shutdownTimeout",
  "autostart",
  "prefetch",
  "onError",
  "metrics",
]);

/** Checks a worker's options (INVALID_OPTION on any that is wrong or unknown) and fills in defaults. */
export function resolveWorkerOptions(queue: string, options: WorkerOptions): ResolvedWorkerOptions {
  rejectUnknown(options, WORKER_OPTION_NAMES, "worker");
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 10_000) {
    throw invalidOption("concurrency must be an integer from 1 to 10000", { concurrency });
  }
  const prefetch = options.prefetch ?? concurrency * 4;
  if (!Number.isInteger(prefetch) || prefetch < 0 || prefetch > 100_000) {
    throw invalidOption("prefetch must be an integer from 0 to 100000", { prefetch });
  }
  const leaseMs = parseDuration(options.lease ?? "30s", "lease");
  if (leaseMs < 100) throw invalidOption("lease must be at least 100ms");
  const shutdownTimeoutMs = parseDuration(options.shutdownTimeout ?? "10s", "shutdownTimeout");
  const retention = resolveRetention(options.retention);
  if (options.onError !== undefined && typeof options.onError !== "function") {
    throw invalidOption("onError must be a function");
  }
  return {
    concurrency,
    prefetchMax: prefetch,
    leaseMs,
    shutdownTimeoutMs,
    retention,
    onError: options.onError ?? warningReporter(`checkback worker ${JSON.stringify(queue)}`),
    autostart: options.autostart ?? true,
    metrics: validateMetricsHook(options.metrics),
  };
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

export function validateMetricsHook(hook: unknown): MetricsHook | undefined {
  if (hook === undefined) return undefined;
  const { increment, observe } = (hook ?? {}) as Partial<MetricsHook>;
  if (typeof increment !== "function" || typeof observe !== "function") {
    throw invalidOption("metrics must be an object with increment and observe functions");
  }
  return hook as MetricsHook;
}
