import { CompleteWith, Release } from "../worker/answers.js";
import type { ActiveJob } from "../worker/leased-job.js";
import { answers, validateAnswer } from "./answer.js";
import type { ResolvedDefinition } from "./definition.js";
import { appendHistory, errorRecord } from "./history.js";
import { type Ending, type ProbePayload, userKeyOf } from "./jobs.js";
import { newOutcomeJob, outcomeOf } from "./outcome.js";
import { nextDelay } from "./schedule.js";
import type { ProbeAnswer, ProbeContext, ProbeRecord } from "./types.js";

/**
 * One worker run of a check's probe job = one probe. A pending answer (or an error, which the
 * schedule absorbs) gives the job back until the next probe, with the probe recorded in its
 * payload; done / failed / the end of the schedule completes the job and adds the outcome job
 * in the same step. If the check was resolved, rejected or cancelled while the probe ran, the
 * store refuses this worker's lease and nothing the probe said is recorded.
 */
export function probeRunner<I, R>(name: string, queue: string, definition: ResolvedDefinition<I, R>) {
  return async (job: ActiveJob<ProbePayload<I>>): Promise<Release | CompleteWith> => {
    const localStart = Date.now();
    const { input, history: earlier, probes: before } = job.payload;
    const key = userKeyOf(job.key);
    const deadlineAt = definition.deadlineMs === null ? null : job.createdAt + definition.deadlineMs;
    const signal = new ProbeSignal(job.signal);
    const context: ProbeContext<I, R> = {
      name,
      key,
      input,
      probe: before + 1,
      runAt: job.runAt,
      startedAt: job.startedAt,
      checkStartedAt: job.createdAt,
      deadlineAt,
      history: earlier,
      get signal() {
        return signal.get();
      },
      ...answers,
    };

    let answer: ProbeAnswer<R> | null = null;
    let record: ProbeRecord;
    try {
      answer = await ask(definition, context, signal);
      record = { at: job.startedAt, answer: answer.status };
      if (answer.status === "failed") record.reason = answer.reason;
    } catch (error) {
      record = errorRecord(job.startedAt, error);
    } finally {
      signal.release();
    }
    const probes = before + 1;
    const history = appendHistory(earlier, record);
    // The store's clock now, estimated from the claim's clock plus the time the probe took.
    const now = job.startedAt + (Date.now() - localStart);

    const end = (ending: Ending<R>) => {
      const outcome = outcomeOf(ending, { checkId: job.id, key, input, probes });
      return new CompleteWith({ ...ending, probes, history }, [newOutcomeJob(queue, definition, outcome)]);
    };
    if (answer?.status === "done") return end({ state: "done", result: answer.result, reason: null, endedBy: "probe" });
    if (answer?.status === "failed")
      return end({ state: "failed", result: null, reason: answer.reason, endedBy: "probe" });

    const next = nextDelay(definition.schedule, probes, now, deadlineAt);
    if ("end" in next) {
      const reason = next.end === "schedule" ? "schedule exhausted" : "deadline reached";
      return end({ state: "gave_up", result: null, reason, endedBy: next.end });
    }
    const payload: ProbePayload<I> = { kind: "probe", input, probes, history };
    return new Release(next.delayMs, payload);
  };
}

/**
 * Runs the probe. An asynchronous probe races its timeout, past which its signal is aborted
 * and it counts as an error; a synchronous one needs no timer.
 */
function ask<I, R>(
  definition: ResolvedDefinition<I, R>,
  context: ProbeContext<I, R>,
  signal: ProbeSignal,
): ProbeAnswer<R> | Promise<ProbeAnswer<R>> {
  const returned: unknown = definition.probe(context);
  if (!isThenable(returned)) return validateAnswer<R>(returned);
  return new Promise<ProbeAnswer<R>>((resolve, reject) => {
    const timer = setTimeout(() => {
      const error = new Error(`probe timed out after ${definition.probeTimeoutMs}ms`);
      signal.abort(error);
      reject(error);
    }, definition.probeTimeoutMs);
    returned.then(
      (value) => {
        clearTimeout(timer);
        try {
          resolve(validateAnswer<R>(value));
        } catch (error) {
          reject(error);
        }
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * The probe's AbortSignal, aborted on timeout or when the worker loses the job. Made only if
 * the probe asks for it: an AbortController costs more than many probes' own work.
 */
class ProbeSignal {
  private controller: AbortController | undefined;
  private timeoutError: Error | undefined;
  private readonly forward = () => this.controller?.abort(this.jobSignal.reason);

  constructor(private readonly jobSignal: AbortSignal) {}

  get(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.timeoutError) this.controller.abort(this.timeoutError);
      else if (this.jobSignal.aborted) this.controller.abort(this.jobSignal.reason);
      else this.jobSignal.addEventListener("abort", this.forward, { once: true });
    }
    return this.controller.signal;
  }

  abort(error: Error): void {
    this.timeoutError = error;
    this.controller?.abort(error);
  }

  release(): void {
    if (this.controller) this.jobSignal.removeEventListener("abort", this.forward);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}
