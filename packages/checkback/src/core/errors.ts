import { boundedDetail } from "./describe.js";

/**
 * Every error checkback raises on purpose is a CheckbackError with a stable `code`, so that
 * callers (and the HTTP layer, which maps codes to status codes) can branch on it without
 * parsing messages. Validation errors are raised before any store call, so a rejected
 * request never changes anything.
 */
export type ErrorCode =
  | "INVALID_DURATION"
  | "INVALID_OPTION"
  | "INVALID_PAYLOAD"
  | "PAYLOAD_TOO_LARGE"
  | "UNKNOWN_QUEUE"
  | "JOB_NOT_FOUND"
  | "SCHEDULE_NOT_FOUND"
  | "LEASE_LOST"
  | "INVALID_STATE"
  | "INVALID_PAGE"
  | "STORE_CLOSED"
  | "STORE_UNAVAILABLE"
  | "DRIVER_MISSING";

export class CheckbackError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    // Details often quote the caller's own input, which may be anything: keep them small and
    // plain, since the server serializes them into every error it answers.
    this.details =
      details === undefined
        ? undefined
        : Object.fromEntries(Object.entries(details).map(([name, value]) => [name, boundedDetail(value)]));
  }
}

/** Bad input from a caller: a duration, an option, a payload. */
export class ValidationError extends CheckbackError {}

/** The payload serializes to more bytes than the instance allows. */
export class PayloadTooLargeError extends CheckbackError {
  constructor(bytes: number, limit: number, what = "payload") {
    super("PAYLOAD_TOO_LARGE", `${what} is ${bytes} bytes, the limit is ${limit}`, { bytes, limit });
  }
}

/** The job was claimed again by someone else (lease expired) or finished: the lease token is stale. */
export class LeaseLostError extends CheckbackError {
  constructor(jobId: string) {
    super("LEASE_LOST", `lease on job ${jobId} is no longer held by this token`, { jobId });
  }
}

export class JobNotFoundError extends CheckbackError {
  constructor(ref: string) {
    super("JOB_NOT_FOUND", `no job ${ref}`, { ref });
  }
}

/** No schedule of that name is defined (or it was removed). */
export class ScheduleNotFoundError extends CheckbackError {
  constructor(name: string) {
    super("SCHEDULE_NOT_FOUND", `no schedule ${JSON.stringify(name)} is defined`, { name });
  }
}

export class InvalidStateError extends CheckbackError {
  constructor(message: string, details?: Record<string, unknown>) {
    super("INVALID_STATE", message, details);
  }
}

/** The store was closed by its owner: nothing more can be done with it (permanent). */
export class StoreClosedError extends CheckbackError {
  constructor(store: string) {
    super("STORE_CLOSED", `the ${store} store is closed`, { store });
  }
}

/**
 * The store cannot be reached now (connection refused or lost, server down): the call changed
 * nothing that was acknowledged, and the same call may succeed later (transient).
 */
export class StoreUnavailableError extends CheckbackError {
  constructor(message: string, details?: Record<string, unknown>) {
    super("STORE_UNAVAILABLE", message, details);
  }
}

export function invalidOption(message: string, details?: Record<string, unknown>): ValidationError {
  return new ValidationError("INVALID_OPTION", message, details);
}
