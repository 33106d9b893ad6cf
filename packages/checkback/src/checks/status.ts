import type { JobRecord } from "../core/job.js";
import { parsePayload } from "../core/payload.js";
import type { Ending, ProbePayload } from "./jobs.js";
import { userKeyOf } from "./jobs.js";
import type { CheckStatus } from "./types.js";

/**
 * A check's status, read from its probe job (and, once it ended, its outcome job). The probe
 * job's state says whether it runs; a completed job's result says how it ended.
 */
export function statusOf<I, R>(
  name: string,
  deadlineMs: number | null,
  job: JobRecord,
  outcomeJob: JobRecord | null,
): CheckStatus<I, R> {
  const payload = parsePayload<ProbePayload<I>>(job.payload);
  const ending = job.state === "completed" && job.result !== null ? parsePayload<Ending<R>>(job.result) : null;
  const running = job.state === "scheduled" || job.state === "active";
  const base = {
    name,
    key: userKeyOf(job.key),
    checkId: job.id,
    input: payload.input,
    probes: ending?.probes ?? payload.probes,
    history: ending?.history ?? payload.history,
    startedAt: job.createdAt,
    nextProbeAt: job.state === "scheduled" ? job.runAt : null,
    deadlineAt: deadlineMs === null ? null : job.createdAt + deadlineMs,
    endedAt: running ? null : job.updatedAt,
    outcome: outcomeJob
      ? { state: outcomeJob.state, attempts: outcomeJob.attempts, errors: outcomeJob.errors.map((e) => e.message) }
      : null,
  };
  if (running) return { ...base, state: "running", result: null, reason: null, endedBy: null };
  if (ending)
    return { ...base, state: ending.state, result: ending.result, reason: ending.reason, endedBy: ending.endedBy };
  if (job.state === "cancelled") return { ...base, state: "cancelled", result: null, reason: null, endedBy: "cancel" };
  const lastError = job.errors.at(-1)?.message ?? null;
  return { ...base, state: "dead", result: null, reason: lastError, endedBy: "dead" };
}
