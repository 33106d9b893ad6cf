/**
 * Pieces of the library that @checkback/server builds on: option checks, input rules, wire
 * encodings, the outcome rule. Not part of the public API: they may change in any release.
 */
export { CHECK_KEY_PREFIX, CHECK_QUEUE_PREFIX, checkQueueName, MAX_CHECK_NAME_LENGTH } from "./checks/jobs.js";
export { DEFAULT_BACKOFF } from "./core/backoff.js";
export { formatDuration, MAX_DURATION_MS } from "./core/duration.js";
export { JOB_STATES } from "./core/job.js";
export { toJob } from "./core/job-view.js";
export { rejectUnknown, resolveAddOptions, validateQueueName } from "./core/options.js";
export { DEFAULT_MAX_PAYLOAD_BYTES, serializePayload } from "./core/payload.js";
export { failureMessage, IDENTIFIER_PATTERN, MAX_ID_LENGTH, MAX_KEY_LENGTH, NAME_PATTERN } from "./core/text.js";
export {
  checkGroupPriority,
  MAX_GROUP_CONCURRENCY,
  MAX_GROUP_LENGTH,
  resolveGroup,
  resolveGroupLimits,
} from "./flow/groups.js";
export { resolveRateLimit } from "./flow/rate-limit.js";
export { type ReleaseJobOptions, releaseJob } from "./flow/slow-down.js";
export {
  MAX_SCHEDULE_NAME_LENGTH,
  resolveScheduleDefinition,
  SCHEDULE_QUEUE_PREFIX,
  SCHEDULES_QUEUE,
} from "./scans/definition.js";
export {
  MAX_SWEEP_NAME_LENGTH,
  SWEEP_ITEMS_QUEUE_PREFIX,
  SWEEP_QUEUE_PREFIX,
  sweepQueueName,
} from "./scans/sweep-run.js";

export { DEFAULT_STORE_URL } from "./stores/open-store.js";
export type { ClaimOptions, ClaimResult } from "./stores/store.js";
export { withDelivery } from "./telemetry/metrics.js";
export { setOtelForTesting } from "./telemetry/otel.js";
export {
  activeTraceIds,
  activeTraceparent,
  jobTracing,
  resetTracingForTesting,
  TRACE_ATTRIBUTES,
  withTraceparent,
} from "./telemetry/tracing.js";
export { decideOutcome, type Outcome } from "./worker/outcome.js";
