import type { BackoffPolicy } from "../../core/backoff.js";
import type { JobError, JobRecord, JobState } from "../../core/job.js";
import type { GroupLimits, GroupState } from "../../flow/groups.js";
import type { NewJob, When } from "../store.js";
import { parseStoredBackoff, storedBackoffText } from "../stored-backoff.js";

/**
 * Converting between the store's types and the scripts' arguments and replies. A record comes
 * back from Lua as a flat array (see reply() in include/record.lua), null for absent fields.
 */
export type RecordReply = [
  seq: number,
  state: JobState,
  runAt: number,
  attempts: number,
  maxAttempts: number,
  backoff: string,
  payload: string,
  key: string | null,
  createdAt: number,
  updatedAt: number,
  leaseToken: string | null,
  leaseExpiresAt: number | null,
  errors: string | null,
  result: string | null,
  priority: number,
  group: string | null,
];

/**
 * A claimed job as claim.lua sends it: only what the client cannot work out itself. Its state
 * is active, it was updated at the claim's `now`, its token is the claim's token part and its
 * seq, and its lease ends at the claim's expiry; its back-off policy comes by id, with the
 * claim's list of the policies used.
 */
export type ClaimedReply = [
  seq: number,
  runAt: number,
  attempts: number,
  maxAttempts: number,
  backoffId: number,
  payload: string,
  key: string | null,
  createdAt: number,
  errors: string | null,
  result: string | null,
  priority: number,
  group: string | null,
];

export interface ClaimContext {
  queue: string;
  id: (seq: number) => string;
  now: number;
  tokenPart: string;
  expiresAt: number;
  backoffs: Map<number, BackoffPolicy>;
}

export function decodeClaimed(reply: ClaimedReply, claim: ClaimContext): JobRecord {
  const [seq, runAt, attempts, maxAttempts, backoffId, payload, key, createdAt, errors, result, priority, group] =
    reply;
  const backoff = claim.backoffs.get(backoffId);
  if (!backoff) throw new Error(`claim reply names back-off policy ${backoffId} without sending it`);
  return {
    id: claim.id(seq),
    queue: claim.queue,
    key,
    payload,
    state: "active",
    runAt,
    attempts,
    maxAttempts,
    backoff,
    priority,
    group,
    errors: errors === null ? [] : (JSON.parse(errors) as JobError[]),
    result,
    createdAt,
    updatedAt: claim.now,
    leaseToken: `${claim.tokenPart}.${seq}`,
    leaseExpiresAt: claim.expiresAt,
  };
}

export function decodeRecord(queue: string, id: (seq: number) => string, reply: RecordReply): JobRecord {
  const [seq, state, runAt, attempts, maxAttempts, backoff, payload, key] = reply;
  const [createdAt, updatedAt, leaseToken, leaseExpiresAt, errors, result, priority, group] = reply.slice(8) as [
    number,
    number,
    string | null,
    number | null,
    string | null,
    string | null,
    number,
    string | null,
  ];
  return {
    id: id(seq),
    queue,
    key,
    payload,
    state,
    runAt,
    attempts,
    maxAttempts,
    backoff: parseStoredBackoff(backoff),
    priority,
    group,
    errors: errors === null ? [] : (JSON.parse(errors) as JobError[]),
    result,
    createdAt,
    updatedAt,
    leaseToken,
    leaseExpiresAt,
  };
}

const VISITING = "\u0001";

/**
 * New jobs as the ARGV entries add-job.lua reads: the distinct back-off policies once, then
 * JOB_FIELDS = 10 entries per job that name their policy by index. Jobs of one queue usually
 * share one policy object: its text is looked up only when the object changes. `visiting`
 * marks jobs sent to a partition only for their key's holder there (redis-store.ts add): their
 * group goes with a leading VISITING character, which no group name can hold (flow/groups.ts
 * refuses control characters), rather than in a field of its own that every job would carry.
 */
export function encodeNewJobs(jobs: NewJob[], seqs: (number | null)[], visiting?: boolean[]): string[] {
  const byText = new Map<string, number>();
  const policies: string[] = [];
  const fields: string[] = [];
  let lastPolicy: BackoffPolicy | undefined;
  let index = 0;
  jobs.forEach((job, i) => {
    if (job.backoff !== lastPolicy) {
      const text = storedBackoffText(job.backoff);
      index = byText.get(text) ?? policies.push(text);
      byText.set(text, index);
      lastPolicy = job.backoff;
    }
    const seq = seqs[i] ?? null;
    fields.push(
      job.key ?? "",
      job.payload,
      ...encodeWhen(job.when),
      String(job.maxAttempts),
      String(index),
      job.onDuplicate,
      seq === null ? "" : String(seq),
      String(job.priority ?? 0),
      visiting?.[i] ? VISITING + job.group : (job.group ?? ""),
    );
  });
  return [String(policies.length), ...policies, ...fields];
}

export function encodeWhen(when: When): [kind: "d" | "a", value: string] {
  return "runAt" in when ? ["a", String(when.runAt)] : ["d", String(when.delayMs)];
}

export const STATE_CODES: Record<JobState, number> = {
  scheduled: 0,
  active: 1,
  completed: 2,
  dead: 3,
  cancelled: 4,
};

export function decodeCounts(flat: string[]): Record<JobState, number> {
  const counts: Record<JobState, number> = { scheduled: 0, active: 0, completed: 0, dead: 0, cancelled: 0 };
  const names = Object.keys(STATE_CODES) as JobState[];
  for (let i = 0; i < flat.length; i += 2) {
    const state = names[Number(flat[i])];
    if (state) counts[state] += Number(flat[i + 1]);
  }
  return counts;
}

/** A group as group.lua replies (groupReply in include/groups.lua). */
export type GroupReply = [
  group: string,
  own: 0 | 1,
  concurrency: number | null,
  rate: number | null,
  perMs: number | null,
  active: number,
  scheduled: number,
  pausedUntil: number | null,
  tokens: number | null,
];

export function decodeGroupState([
  group,
  own,
  concurrency,
  rate,
  perMs,
  active,
  scheduled,
  pausedUntil,
  tokens,
]: GroupReply): GroupState {
  return {
    group,
    limits: { concurrency, limit: rate === null || perMs === null ? null : { rate, perMs } },
    ownLimits: own === 1,
    active,
    scheduled,
    pausedUntil,
    tokens,
  };
}

/** The queue's default group limits as group.lua replies: [] when none are set. */
export function decodeGroupLimits(reply: [number | null, number | null, number | null] | []): GroupLimits | null {
  if (reply.length === 0) return null;
  const [concurrency, rate, perMs] = reply;
  return { concurrency, limit: rate === null || perMs === null ? null : { rate, perMs } };
}

/** Group limits as group.lua's arguments: concurrency, rate, per ('' for none). */
export function encodeGroupLimits(limits: GroupLimits): [string, string, string] {
  return [
    limits.concurrency === null ? "" : String(limits.concurrency),
    limits.limit ? String(limits.limit.rate) : "",
    limits.limit ? String(limits.limit.perMs) : "",
  ];
}
