import type { BackoffPolicy } from "../../core/backoff.js";
import type { JobError, JobRecord, JobState } from "../../core/job.js";
import type { NewJob, When } from "../store.js";

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
  const [seq, runAt, attempts, maxAttempts, backoffId, payload, key, createdAt, errors, result] = reply;
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
    errors: errors === null ? [] : (JSON.parse(errors) as JobError[]),
    result,
    createdAt,
    updatedAt: claim.now,
    leaseToken: `${claim.tokenPart}.${seq}`,
    leaseExpiresAt: claim.expiresAt,
  };
}

/**
 * Back-off policies by their json. Jobs of a queue share a handful of policies, and parsing
 * the same json for every job read was a measurable share of a claim's cost on the client.
 * The parsed policies are frozen: every record that uses one shares it.
 */
const parsedBackoffs = new Map<string, BackoffPolicy>();
const PARSED_BACKOFFS_MAX = 1_000;

export function parseBackoff(json: string): BackoffPolicy {
  let policy = parsedBackoffs.get(json);
  if (!policy) {
    policy = deepFreeze(JSON.parse(json) as BackoffPolicy);
    if (parsedBackoffs.size >= PARSED_BACKOFFS_MAX) parsedBackoffs.clear();
    parsedBackoffs.set(json, policy);
  }
  return policy;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

export function decodeRecord(queue: string, id: (seq: number) => string, reply: RecordReply): JobRecord {
  const [seq, state, runAt, attempts, maxAttempts, backoff, payload, key] = reply;
  const [createdAt, updatedAt, leaseToken, leaseExpiresAt, errors, result] = reply.slice(8) as [
    number,
    number,
    string | null,
    number | null,
    string | null,
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
    backoff: parseBackoff(backoff),
    errors: errors === null ? [] : (JSON.parse(errors) as JobError[]),
    result,
    createdAt,
    updatedAt,
    leaseToken,
    leaseExpiresAt,
  };
}

/**
 * New jobs as the ARGV entries add-job.lua reads: the distinct back-off policies once, then
 * JOB_FIELDS = 8 entries per job that name their policy by index. Jobs of one queue usually
 * share one policy object, so it is found by identity before being compared as json.
 */
export function encodeNewJobs(jobs: NewJob[], seqs: (number | null)[]): string[] {
  const byObject = new Map<object, number>();
  const byJson = new Map<string, number>();
  const policies: string[] = [];
  const fields: string[] = [];
  jobs.forEach((job, i) => {
    let index = byObject.get(job.backoff);
    if (index === undefined) {
      const json = JSON.stringify(job.backoff);
      index = byJson.get(json);
      if (index === undefined) {
        policies.push(json);
        index = policies.length;
        byJson.set(json, index);
      }
      byObject.set(job.backoff, index);
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
