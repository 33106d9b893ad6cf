import type { JobError, JobRecord, JobState } from "../../core/job.js";
import { parseStoredBackoff } from "../stored-backoff.js";

/** A row of the `jobs` table as better-sqlite3 returns it. */
export interface JobRow {
  id: number;
  queue: string;
  key: string | null;
  payload: string;
  state: JobState;
  run_at: number;
  due_at: number | null;
  attempts: number;
  max_attempts: number;
  priority: number;
  group_name: string | null;
  backoff: string;
  errors: string;
  result: string | null;
  created_at: number;
  updated_at: number;
  lease_token: string | null;
  lease_expires_at: number | null;
}

/** The columns a JobRecord is built from (due_at is the store's own bookkeeping). */
export const JOB_COLUMNS =
  "id, queue, key, payload, state, run_at, attempts, max_attempts, priority, group_name, backoff, errors, result, created_at, updated_at, lease_token, lease_expires_at";

export function toRecord(row: JobRow): JobRecord {
  return {
    id: String(row.id),
    queue: row.queue,
    key: row.key,
    payload: row.payload,
    state: row.state,
    runAt: row.run_at,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    backoff: parseStoredBackoff(row.backoff),
    priority: row.priority,
    group: row.group_name,
    errors: row.errors === "[]" ? [] : (JSON.parse(row.errors) as JobError[]),
    result: row.result,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    leaseToken: row.lease_token,
    leaseExpiresAt: row.lease_expires_at,
  };
}

/**
 * Job ids are the rowid as decimal text. Anything else ("01", "1.0", "abc") names no job:
 * it is not an error, just nothing found, as with any unknown id.
 */
export function parseId(id: string): number | null {
  if (typeof id !== "string" || !/^[1-9][0-9]{0,15}$/.test(id)) return null;
  const n = Number(id);
  return Number.isSafeInteger(n) ? n : null;
}
