import type { JobError, JobRecord, JobState } from "./job.js";
import { parsePayload } from "./payload.js";

/** A job as the library hands it to users: the payload parsed, instants as epoch ms. */
export interface Job<T = unknown> {
  id: string;
  queue: string;
  key: string | null;
  payload: T;
  state: JobState;
  runAt: number;
  attempts: number;
  maxAttempts: number;
  /** Order among due jobs, −10..10, higher first (docs/flow-control.md). */
  priority: number;
  /** The job's group, null when it has none (docs/flow-control.md). */
  group: string | null;
  errors: JobError[];
  result: unknown;
  createdAt: number;
  updatedAt: number;
}

export function toJob<T>(record: JobRecord): Job<T> {
  return {
    id: record.id,
    queue: record.queue,
    key: record.key,
    payload: parsePayload<T>(record.payload),
    state: record.state,
    runAt: record.runAt,
    attempts: record.attempts,
    maxAttempts: record.maxAttempts,
    priority: record.priority,
    group: record.group,
    errors: record.errors,
    result: record.result === null ? null : parsePayload(record.result),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}
