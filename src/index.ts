export { Checkback, type CheckbackOptions, createCheckback } from "./checkback.js";
export * from "./checks/index.js";
export type { BackoffOption } from "./core/backoff.js";
export { type Duration, parseDuration } from "./core/duration.js";
export * from "./core/errors.js";
export type { JobError, JobRecord, JobRef, JobState } from "./core/job.js";
export type { AddOptions, JobDefaults } from "./core/options.js";
export type { Job } from "./job-view.js";
export { type Added, type JobLookup, Queue, type WhenOptions } from "./queue.js";
export { SIGNATURE_HEADER, signBody, type Verification, verifySignature } from "./server/signature.js";
export { MemoryStore } from "./stores/memory/memory-store.js";
export { openStore } from "./stores/open-store.js";
export { PostgresStore, type PostgresStoreOptions } from "./stores/postgres/postgres-store.js";
export { RedisStore, type RedisStoreOptions } from "./stores/redis/redis-store.js";
export { SqliteStore, type SqliteStoreOptions } from "./stores/sqlite/sqlite-store.js";
export type { Store } from "./stores/store.js";
export {
  type ActiveJob,
  CompleteWith,
  type Handler,
  later,
  RunLater,
  Worker,
  type WorkerEvents,
  type WorkerOptions,
} from "./worker.js";
