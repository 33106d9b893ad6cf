import type { Span, SpanContext, Tracer } from "@opentelemetry/api";
import { LeaseLostError } from "../core/errors.js";
import { carryTrace, markTrace, traceOf } from "../core/trace-mark.js";
import type { AddOutcome, NewJob } from "../stores/store.js";
import type { Outcome } from "../worker/outcome.js";
import { loadOtel, type Otel } from "./otel.js";

/** Span attribute names: the messaging conventions' where one fits, checkback's own otherwise. */
export const TRACE_ATTRIBUTES = {
  system: "messaging.system",
  queue: "messaging.destination.name",
  operation: "messaging.operation.name",
  batchSize: "messaging.batch.message_count",
  jobId: "checkback.job.id",
  attempt: "checkback.job.attempt",
  latenessMs: "checkback.job.lateness_ms",
  outcome: "checkback.job.outcome",
  check: "checkback.check.name",
} as const;

const A = TRACE_ATTRIBUTES;

/** What a traced job is known by when its spans start (an ActiveJob has all of it). */
export interface TracedJob {
  id: string;
  queue: string;
  attempts: number;
  runAt: number;
  startedAt: number;
}

/**
 * Spans around checkback's own steps, through @opentelemetry/api. `jobTracing()` is null when
 * the package is not installed, and every caller tests for null once, so an app without it
 * runs exactly the untraced code. With the package but no tracer provider registered, spans are
 * the API's no-op spans and nothing is written into payloads (their contexts are invalid).
 */
export class JobTracing {
  private readonly tracer: Tracer;

  constructor(private readonly otel: Otel) {
    this.tracer = otel.trace.getTracer("checkback");
  }

  /**
   * An add, as a producer span in the caller's active trace; each job carries the span's
   * context in its payload (core/trace-mark.ts), to be the parent of its handler's span.
   */
  async add(queue: string, jobs: NewJob[], add: (jobs: NewJob[]) => Promise<AddOutcome[]>): Promise<AddOutcome[]> {
    const { trace, SpanKind } = this.otel;
    const span = this.tracer.startSpan("checkback.add", {
      kind: SpanKind.PRODUCER,
      attributes: { [A.system]: "checkback", [A.queue]: queue, [A.operation]: "add", [A.batchSize]: jobs.length },
    });
    const spanContext = span.spanContext();
    const marked = trace.isSpanContextValid(spanContext)
      ? jobs.map((job) => ({ ...job, payload: markTrace(traceparentOf(spanContext), job.payload) }))
      : jobs;
    try {
      const outcomes = await add(marked);
      if (outcomes.length === 1) {
        span.setAttribute(A.jobId, outcomes[0]!.job.id);
        span.setAttribute("checkback.add.outcome", outcomes[0]!.outcome);
      }
      return outcomes;
    } catch (error) {
      this.failed(span, error);
      throw error;
    } finally {
      span.end();
    }
  }

  /** A claim that handed out jobs (empty claims make no span: an idle worker is not news). */
  claimed(queue: string, startedAt: number, count: number): void {
    const span = this.tracer.startSpan("checkback.claim", {
      kind: this.otel.SpanKind.CONSUMER,
      startTime: performance.timeOrigin + startedAt,
      attributes: { [A.system]: "checkback", [A.queue]: queue, [A.operation]: "claim", [A.batchSize]: count },
    });
    span.end();
  }

  /**
   * Runs one attempt (`run`: the handler and the recording of its outcome) inside a consumer
   * span whose parent is the producer's context stored with the job (linked as well, for tools
   * that draw messaging traces by their links), so the producer's trace goes on into the handler.
   */
  process(job: TracedJob, payload: string, name: string, run: () => Promise<void>): void {
    const { trace, context, SpanKind } = this.otel;
    const stored = storedContext(this.otel, payload);
    const parent = stored ? trace.setSpanContext(context.active(), stored) : context.active();
    const span = this.tracer.startSpan(
      name,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          [A.system]: "checkback",
          [A.queue]: job.queue,
          [A.operation]: "process",
          [A.jobId]: job.id,
          [A.attempt]: job.attempts,
          [A.latenessMs]: Math.max(0, job.startedAt - job.runAt),
        },
        ...(stored ? { links: [{ context: stored }] } : {}),
      },
      parent,
    );
    void context.with(trace.setSpan(parent, span), run).finally(() => span.end());
  }

  /**
   * One step inside the current attempt's span (complete, fail, release): a span of its own,
   * and the attempt's span told how it ended. A lost lease marks both.
   */
  async step<T>(kind: string, job: TracedJob, cause: Error | undefined, store: () => Promise<T>): Promise<T> {
    const { trace, SpanStatusCode } = this.otel;
    const attempt = trace.getActiveSpan();
    attempt?.setAttribute(A.outcome, kind);
    if (cause) {
      attempt?.recordException(cause);
      attempt?.setStatus({ code: SpanStatusCode.ERROR, message: cause.message });
    }
    const span = this.tracer.startSpan(`checkback.${kind}`, {
      attributes: { [A.system]: "checkback", [A.queue]: job.queue, [A.jobId]: job.id, [A.attempt]: job.attempts },
    });
    try {
      return await store();
    } catch (error) {
      if (error instanceof LeaseLostError) {
        attempt?.addEvent("lease lost");
        attempt?.setAttribute(A.outcome, "lease_lost");
      }
      this.failed(span, error);
      throw error;
    } finally {
      span.end();
    }
  }

  /**
   * The outcome with the job's trace kept: a released job's new payload (a check's next probe)
   * keeps the producer's mark, and follow-ups added with a completion (a check's outcome job)
   * get this attempt's span as their parent.
   */
  carry(outcome: Outcome, storedPayload: string): Outcome {
    if (outcome.kind === "release" && outcome.payload !== undefined) {
      return { ...outcome, payload: carryTrace(storedPayload, outcome.payload) };
    }
    if (outcome.kind === "complete" && outcome.enqueue?.length) {
      const spanContext = this.otel.trace.getActiveSpan()?.spanContext();
      if (!spanContext || !this.otel.trace.isSpanContextValid(spanContext)) return outcome;
      const traceparent = traceparentOf(spanContext);
      const enqueue = outcome.enqueue.map((job) => ({ ...job, payload: markTrace(traceparent, job.payload) }));
      return { ...outcome, enqueue };
    }
    return outcome;
  }

  /** A span around `run` in the active context (a check's probe, an outcome's delivery). */
  async around<T>(name: string, attributes: Record<string, string | number>, run: () => Promise<T>): Promise<T> {
    return this.tracer.startActiveSpan(name, { attributes }, async (span: Span) => {
      try {
        return await run();
      } catch (error) {
        this.failed(span, error);
        throw error;
      } finally {
        span.end();
      }
    });
  }

  private failed(span: Span, error: unknown): void {
    const cause = error instanceof Error ? error : new Error(String(error));
    span.recordException(cause);
    span.setStatus({ code: this.otel.SpanStatusCode.ERROR, message: cause.message });
  }
}

let shared: JobTracing | null | undefined;

/** The process's tracing, or null without @opentelemetry/api (decided once). */
export function jobTracing(): JobTracing | null {
  if (shared === undefined) {
    const otel = loadOtel();
    shared = otel ? new JobTracing(otel) : null;
  }
  return shared;
}

/** Tests: decide again (after setOtelForTesting). */
export function resetTracingForTesting(): void {
  shared = undefined;
}

/** W3C trace context: version 00, trace id, parent span id, flags. */
export function traceparentOf(spanContext: SpanContext): string {
  return `00-${spanContext.traceId}-${spanContext.spanId}-${(spanContext.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The span context a traceparent names, or null if it is not one. */
export function parseTraceparent(otel: Otel, text: string | null | undefined): SpanContext | null {
  const match = typeof text === "string" ? TRACEPARENT.exec(text.trim()) : null;
  if (!match) return null;
  const spanContext: SpanContext = {
    traceId: match[1]!,
    spanId: match[2]!,
    traceFlags: Number.parseInt(match[3]!, 16),
    isRemote: true,
  };
  return otel.trace.isSpanContextValid(spanContext) ? spanContext : null;
}

function storedContext(otel: Otel, payload: string): SpanContext | null {
  return parseTraceparent(otel, traceOf(payload));
}

/** The traceparent of the active span, for an outgoing request; null when none is valid. */
export function activeTraceparent(): string | null {
  const otel = loadOtel();
  const spanContext = otel?.trace.getActiveSpan()?.spanContext();
  return otel && spanContext && otel.trace.isSpanContextValid(spanContext) ? traceparentOf(spanContext) : null;
}

/** The active trace's ids, for log lines; null when there is no valid active span. */
export function activeTraceIds(): { traceId: string; spanId: string } | null {
  const otel = loadOtel();
  const spanContext = otel?.trace.getActiveSpan()?.spanContext();
  return otel && spanContext && otel.trace.isSpanContextValid(spanContext)
    ? { traceId: spanContext.traceId, spanId: spanContext.spanId }
    : null;
}

/**
 * Runs `fn` with a remote parent taken from a `traceparent` header (a producer calling the
 * server), so the jobs it adds continue the caller's trace. Without a valid header, without the
 * package, or when a span is already active (the app's own HTTP instrumentation made one from
 * the same header), `fn` runs as it is.
 */
export function withTraceparent<T>(traceparent: string | string[] | undefined, fn: () => T): T {
  if (traceparent === undefined) return fn();
  const otel = loadOtel();
  if (!otel || otel.trace.getActiveSpan()) return fn();
  const remote = parseTraceparent(otel, Array.isArray(traceparent) ? traceparent[0] : traceparent);
  if (!remote) return fn();
  return otel.context.with(otel.trace.setSpanContext(otel.context.active(), remote), fn);
}
