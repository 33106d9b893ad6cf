import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";

export { trace };

/**
 * An OpenTelemetry SDK for tests: every ended span goes to an in-memory exporter, and the
 * active context follows async calls (as a real app's set-up does). Registered once per test
 * file (vitest runs each file in a worker of its own).
 */
export const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
trace.setGlobalTracerProvider(provider);
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

export const testTracer = trace.getTracer("checkback-test");

export function spans(): ReadableSpan[] {
  return exporter.getFinishedSpans();
}

export function spansNamed(name: string, traceId?: string): ReadableSpan[] {
  return spans().filter((s) => s.name === name && (traceId === undefined || s.spanContext().traceId === traceId));
}

export function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

/** Runs `fn` inside a span named `name` that ends when `fn` settles; returns its result and the span's ids. */
export async function inSpan<T>(
  name: string,
  fn: () => Promise<T>,
): Promise<{ value: T; traceId: string; spanId: string }> {
  return testTracer.startActiveSpan(name, async (span) => {
    try {
      const value = await fn();
      const { traceId, spanId } = span.spanContext();
      return { value, traceId, spanId };
    } finally {
      span.end();
    }
  });
}
