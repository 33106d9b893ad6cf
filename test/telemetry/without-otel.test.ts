import { afterEach, describe, expect, it } from "vitest";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { carryTrace, markTrace, traceOf, unmarked } from "../../packages/checkback/src/core/trace-mark.js";
import { setOtelForTesting } from "../../packages/checkback/src/telemetry/otel.js";
import { jobTracing, resetTracingForTesting } from "../../packages/checkback/src/telemetry/tracing.js";
import { waitFor } from "../support/wait.js";

const TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

describe("trace marks in payload text", () => {
  it("round-trips, and leaves unmarked JSON alone", () => {
    const marked = markTrace(TRACEPARENT, '{"a":1}');
    expect(traceOf(marked)).toBe(TRACEPARENT);
    expect(unmarked(marked)).toBe('{"a":1}');
    expect(traceOf('{"a":1}')).toBeNull();
    expect(unmarked('"\\u001e text"')).toBe('"\\u001e text"');
    expect(carryTrace(marked, "[2]")).toBe(markTrace(TRACEPARENT, "[2]"));
    expect(carryTrace("[1]", "[2]")).toBe("[2]");
  });
});

describe("without @opentelemetry/api", () => {
  afterEach(() => {
    setOtelForTesting(undefined);
    resetTracingForTesting();
  });

  it("adds and runs jobs untraced, their payloads stored exactly as serialized", async () => {
    setOtelForTesting(null);
    resetTracingForTesting();
    expect(jobTracing()).toBeNull();
    const checkback = new Checkback({ store: "memory:" });
    const done: unknown[] = [];
    checkback.worker("plain", (job) => {
      done.push(job.payload);
    });
    const added = await checkback.queue("plain").add({ n: 1 });
    await waitFor(() => done.length === 1, 5_000);
    expect(done).toEqual([{ n: 1 }]);
    expect((await checkback.store.get("plain", added.id))?.payload).toBe('{"n":1}');
    await checkback.close();
  });
});
