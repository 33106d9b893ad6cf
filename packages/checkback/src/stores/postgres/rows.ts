import type { JobRecord, JobState } from "../../core/job.js";
import { parseStoredBackoff } from "../stored-backoff.js";
import { readError, type StoredError } from "./error-message.js";

/**
 * A row of the `jobs` table as pg returns it: bigint columns arrive as decimal text (pg does not
 * guess at 64-bit integers), jsonb as parsed values.
 */
export interface JobRow {
  id: string;
  queue: string;
  key: string | null;
  payload: string;
  state: JobState;
  run_at: string;
  attempts: number;
  max_attempts: number;
  priority: number;
  group_name: string | null;
  backoff: string;
  errors: StoredError[];
  result: string | null;
  created_at: string;
  updated_at: string;
  lease_token: string | null;
  lease_expires_at: string | null;
}

/** The columns a JobRecord is built from (due_at is the store's own bookkeeping). */
export const JOB_COLUMNS =
  "id, queue, key, payload, state, run_at, attempts, max_attempts, priority, group_name, backoff, errors, result, created_at, updated_at, lease_token, lease_expires_at";

/** JOB_COLUMNS qualified by a table alias, for statements that join. */
export function jobColumns(alias: string): string {
  return JOB_COLUMNS.split(", ")
    .map((column) => `${alias}.${column}`)
    .join(", ");
}

export function toRecord(row: JobRow): JobRecord {
  return {
    id: row.id,
    queue: row.queue,
    key: row.key,
    payload: row.payload,
    state: row.state,
    runAt: Number(row.run_at),
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    backoff: parseStoredBackoff(row.backoff),
    priority: row.priority,
    group: row.group_name,
    errors: row.errors.map(readError),
    result: row.result,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    leaseToken: row.lease_token,
    leaseExpiresAt: row.lease_expires_at === null ? null : Number(row.lease_expires_at),
  };
}

const MAX_BIGINT = 9223372036854775807n;

/**
 * Job ids are the bigserial as decimal text. Anything else ("01", "1.0", "abc", beyond bigint)
 * names no job: not an error, just nothing found, as with any unknown id. Returned as text for
 * a `$n::bigint` parameter.
 */
export function parseId(id: string): string | null {
  if (typeof id !== "string" || !/^[1-9][0-9]{0,18}$/.test(id)) return null;
  return BigInt(id) <= MAX_BIGINT ? id : null;
}
