import type { JobRecord } from "../core/job.js";
import { type Job, toJob } from "../core/job-view.js";

/** The job a handler receives: the job plus its lease, and a signal aborted if the lease is lost. */
export interface ActiveJob<T> extends Job<T> {
  leaseToken: string;
  signal: AbortSignal;
  /** When the handler started, on the store's clock (lateness = startedAt − runAt). */
  startedAt: number;
}

/**
 * The ActiveJob a handler gets. Its AbortController is made only when a handler reads `signal`
 * or the lease is lost: most handlers never look, and one controller per job is a measurable
 * share of the worker's cost at tens of thousands of jobs per second.
 */
export class LeasedJob<T> implements ActiveJob<T> {
  readonly id: string;
  readonly queue: string;
  readonly key: string | null;
  readonly payload: T;
  readonly state: Job<T>["state"];
  readonly runAt: number;
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly priority: number;
  readonly group: string | null;
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
    this.priority = job.priority;
    this.group = job.group;
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
