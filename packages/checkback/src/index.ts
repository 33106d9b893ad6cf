// The library's public API. The Redis and PostgreSQL stores are on their own entry points
// ("checkback/redis", "checkback/postgres"): their types name the drivers, which are optional.
// A URL ("redis://…", "postgres://…") opens them from here as well, through openStore.
export { Checkback, type CheckbackOptions, createCheckback } from "./checkback.js";
export * from "./checks/index.js";
export type { BackoffOption } from "./core/backoff.js";
export { type Duration, parseDuration } from "./core/duration.js";
export * from "./core/errors.js";
export type { JobError, JobRecord, JobRef, JobState } from "./core/job.js";
export type { Job } from "./core/job-view.js";
export type { AddOptions, JobDefaults } from "./core/options.js";
export type { GroupLimits, GroupLimitsInput, GroupState } from "./flow/groups.js";
export type { FlowSettings, RateLimit, RateLimitInput } from "./flow/rate-limit.js";
export { type Added, type JobLookup, Queue, type WhenOptions } from "./queue/queue.js";
export * from "./scans/index.js";
export * from "./scans/sweep-index.js";
export { MemoryStore } from "./stores/memory/memory-store.js";
export { openStore } from "./stores/open-store.js";
export { backupSqliteFile, SqliteStore, type SqliteStoreOptions } from "./stores/sqlite/sqlite-store.js";
export type { Store } from "./stores/store.js";
export {
  type CounterName,
  type HistogramName,
  METRIC_NAMES,
  type MeterLike,
  type MetricLabels,
  type MetricsHook,
  otelMetrics,
} from "./telemetry/metrics.js";
export {
  CompleteWith,
  later,
  Release,
  type SlowDownOptions,
  type SlowDownScope,
  slowDown,
} from "./worker/answers.js";
export type { ActiveJob } from "./worker/leased-job.js";
export type { WorkerOptions } from "./worker/options.js";
export { type Handler, Worker, type WorkerEvents } from "./worker/worker.js";
