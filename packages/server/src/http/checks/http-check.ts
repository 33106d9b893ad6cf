import type {
  BackoffOption,
  CheckDefinition,
  CheckOutcome,
  CheckSchedule,
  Duration,
  ProbeContext,
  RateLimitInput,
} from "checkback";
import type { ServerMetrics } from "../metrics.js";
import { PostFailure, postSigned } from "../push/post.js";

/**
 * A delayed check defined over HTTP, as kept in the server settings. Its probe is a URL that
 * the server POSTs to on the check's schedule and that answers with JSON
 *   { "status": "pending" } | { "status": "done", "result": … } | { "status": "failed", "reason": "…" };
 * a non-2xx answer, a timeout or any other body counts as a failed probe that the schedule
 * absorbs. The outcome (done, failed, gave up) is POSTed to the callback URL and retried until
 * it answers 2xx. Both requests are signed like push deliveries.
 */
export interface HttpCheck {
  probeUrl: string;
  callbackUrl: string;
  schedule: CheckSchedule;
  deadline: Duration | null;
  /** Timeout of each probe and callback request. */
  timeoutMs: number;
  /** Probes and callbacks running at once for this check. */
  concurrency: number;
  /** Delivery attempts of an outcome before it goes to the check queue's dead letters. */
  outcomeAttempts: number;
  /** Back-off between outcome deliveries; null: the library's default (5 s doubling to an hour). */
  outcomeBackoff: BackoffOption | null;
  secret: string;
  /**
   * The check queue's rate limit (docs/flow-control.md): at most `rate` probes and outcome
   * deliveries per `per`, across every server. Absent or null: none (a redefinition lifts it).
   */
  probeRate?: RateLimitInput | null;
  /**
   * The group every probe job of the check carries (docs/flow-control.md#groups); with it,
   * `probeRate` limits that group instead of the whole check queue. Absent or null: none.
   */
  group?: string | null;
}

/** What the probe URL receives. */
export interface ProbeRequest {
  check: string;
  key: string;
  input: unknown;
  /** 1 for the first probe. */
  probe: number;
  checkStartedAt: number;
  deadlineAt: number | null;
  history: ProbeContext<unknown>["history"];
}

export function toCheckDefinition(
  name: string,
  http: HttpCheck,
  metrics: ServerMetrics,
): CheckDefinition<unknown, unknown> {
  const label = { queue: `check.${name}` };
  const post = async (url: string, body: unknown, headers: Record<string, string>, signal: AbortSignal) => {
    try {
      const answer = await postSigned({
        url,
        secret: http.secret,
        timeoutMs: http.timeoutMs,
        body: JSON.stringify(body),
        headers,
        signal,
      });
      metrics.pushDeliveries.inc({ ...label, result: "success" });
      return answer;
    } catch (error) {
      metrics.pushDeliveries.inc({ ...label, result: error instanceof PostFailure ? error.kind : "network_error" });
      throw error;
    }
  };

  const deliver = async (
    outcome: CheckOutcome<unknown, unknown>,
    context: { attempt: number; signal: AbortSignal },
  ) => {
    await post(
      http.callbackUrl,
      outcome,
      { "checkback-check": name, "checkback-attempt": String(context.attempt) },
      context.signal,
    );
  };

  return {
    schedule: http.schedule,
    ...(http.deadline === null ? {} : { deadline: http.deadline }),
    // A little longer than the request's own timeout, so the request's clearer error wins.
    probeTimeout: http.timeoutMs + 1_000,
    outcomeRetry: {
      attempts: http.outcomeAttempts,
      ...(http.outcomeBackoff === null ? {} : { backoff: http.outcomeBackoff }),
    },
    worker: { concurrency: http.concurrency },
    probeRate: http.probeRate ?? null,
    group: http.group ?? null,
    async probe(context) {
      const request: ProbeRequest = {
        check: name,
        key: context.key,
        input: context.input,
        probe: context.probe,
        checkStartedAt: context.checkStartedAt,
        deadlineAt: context.deadlineAt,
        history: context.history,
      };
      const { text } = await post(
        http.probeUrl,
        request,
        { "checkback-check": name, "checkback-probe": String(context.probe) },
        context.signal,
      );
      try {
        // The checks library validates the shape; anything else is recorded as a probe error.
        return JSON.parse(text);
      } catch {
        throw new Error(`probe answered with a body that is not JSON: ${text.slice(0, 100)}`);
      }
    },
    onDone: deliver,
    onFailed: deliver,
    onGaveUp: deliver,
  };
}
