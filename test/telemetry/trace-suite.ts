import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import type { Store } from "../../packages/checkback/src/stores/store.js";
import { waitFor } from "../support/wait.js";
import { exporter, inSpan, parentOf, spansNamed, testTracer, trace } from "./otel-setup.js";

export interface TraceTarget {
  /** Closed by the suite (through its Checkback). */
  store: Store;
  /** Cleaning that needs the store open (deleting keys). */
  beforeClose?(): Promise<void>;
  /** Cleaning once it is closed (files, schemas). */
  afterClose?(): Promise<void>;
}

const queueName = () => `trace-${Math.random().toString(36).slice(2, 10)}`;

/**
 * A producer's trace goes on into the handler, through the store: the add span is a child of
 * the producer's span, the handler's span a child of the add span (and linked to it), whatever
 * store carried the job in between; the outcome's steps and a check's probes and outcome
 * delivery are spans of that same trace.
 */
export function runTraceSuite(name: string, open: () => Promise<TraceTarget>): void {
  describe(`tracing: ${name}`, () => {
    let target: TraceTarget;
    let checkback: Checkback;

    beforeAll(async () => {
      target = await open();
      checkback = new Checkback({ store: target.store });
    });
    afterAll(async () => {
      await target.beforeClose?.();
      await checkback.close();
      await target.afterClose?.();
    });
    beforeEach(() => exporter.reset());

    it("continues the producer's trace into the handler", async () => {
      const queue = queueName();
      let inHandler: { traceId: string; spanId: string } | undefined;
      const worker = checkback.worker<{ n: number }>(queue, async (job) => {
        expect(job.payload).toEqual({ n: 1 });
        // The user's own span inside the handler nests under checkback's.
        testTracer.startActiveSpan("user work", (span) => span.end());
        inHandler = trace.getActiveSpan()?.spanContext();
      });
      const {
        value: added,
        traceId,
        spanId: producerId,
      } = await inSpan("producer", () => checkback.queue<{ n: number }>(queue).add({ n: 1 }));
      await waitFor(() => spansNamed("checkback.complete", traceId).length === 1, 10_000);
      await worker.close();

      // The payload a reader gets back is the producer's, unchanged.
      expect((await checkback.queue(queue).get(added.id))?.payload).toEqual({ n: 1 });

      const [add] = spansNamed("checkback.add", traceId);
      expect(add).toBeDefined();
      expect(parentOf(add!)).toBe(producerId);
      expect(add!.attributes["messaging.destination.name"]).toBe(queue);
      expect(add!.attributes["checkback.job.id"]).toBe(added.id);

      const [processSpan] = spansNamed("checkback.process", traceId);
      expect(processSpan).toBeDefined();
      expect(parentOf(processSpan!)).toBe(add!.spanContext().spanId);
      expect(processSpan!.links.map((l) => l.context.spanId)).toEqual([add!.spanContext().spanId]);
      expect(processSpan!.attributes).toMatchObject({
        "messaging.destination.name": queue,
        "checkback.job.id": added.id,
        "checkback.job.attempt": 1,
        "checkback.job.outcome": "complete",
      });
      expect(processSpan!.attributes["checkback.job.lateness_ms"]).toBeGreaterThanOrEqual(0);
      expect(inHandler?.traceId).toBe(traceId);
      expect(inHandler?.spanId).toBe(processSpan!.spanContext().spanId);

      const [userWork] = spansNamed("user work", traceId);
      expect(parentOf(userWork!)).toBe(processSpan!.spanContext().spanId);
      const [complete] = spansNamed("checkback.complete", traceId);
      expect(parentOf(complete!)).toBe(processSpan!.spanContext().spanId);
      expect(complete!.attributes["checkback.job.id"]).toBe(added.id);

      const claims = spansNamed("checkback.claim").filter((s) => s.attributes["messaging.destination.name"] === queue);
      expect(claims.length).toBeGreaterThan(0);
    });

    it("traces each attempt of a retried job, the failed one marked as an error", async () => {
      const queue = queueName();
      let calls = 0;
      const worker = checkback.worker(queue, () => {
        calls += 1;
        if (calls === 1) throw new Error("first try fails");
      });
      const { traceId, spanId: producerId } = await inSpan("producer", () =>
        checkback.queue(queue).add({}, { attempts: 3, backoff: 10 }),
      );
      await waitFor(() => spansNamed("checkback.complete", traceId).length === 1, 10_000);
      await worker.close();

      const [add] = spansNamed("checkback.add", traceId);
      expect(parentOf(add!)).toBe(producerId);
      const attempts = spansNamed("checkback.process", traceId).sort(
        (a, b) => Number(a.attributes["checkback.job.attempt"]) - Number(b.attributes["checkback.job.attempt"]),
      );
      expect(attempts.map((s) => s.attributes["checkback.job.attempt"])).toEqual([1, 2]);
      for (const attempt of attempts) expect(parentOf(attempt)).toBe(add!.spanContext().spanId);
      expect(attempts[0]!.status.code).toBe(2); // ERROR
      expect(attempts[0]!.status.message).toBe("first try fails");
      const [fail] = spansNamed("checkback.fail", traceId);
      expect(parentOf(fail!)).toBe(attempts[0]!.spanContext().spanId);
    });

    it("keeps a check's probes and its outcome delivery in the starter's trace", async () => {
      const checkName = `c${Math.random().toString(36).slice(2, 10)}`;
      let probes = 0;
      let delivered = false;
      const check = checkback.check<{ order: string }, string>(checkName, {
        schedule: { every: "20ms", times: 5 },
        probe: (ctx) => {
          probes += 1;
          return probes < 2 ? ctx.pending() : ctx.done("paid");
        },
        onDone: () => {
          delivered = true;
        },
      });
      const { traceId, spanId: producerId } = await inSpan("producer", () => check.start("o-1", { order: "o-1" }));
      await waitFor(() => delivered && spansNamed("checkback.check.outcome", traceId).length === 1, 10_000);
      await check.close();

      const [add] = spansNamed("checkback.add", traceId);
      expect(parentOf(add!)).toBe(producerId);
      const probeSpans = spansNamed("checkback.check.probe", traceId);
      expect(probeSpans).toHaveLength(2);
      const processSpans = spansNamed("checkback.process", traceId);
      // Both probes are children of the start (not of each other); the outcome's attempt is a
      // child of the probe that ended the check.
      const probeAttempts = processSpans.filter((s) => parentOf(s) === add!.spanContext().spanId);
      expect(probeAttempts).toHaveLength(2);
      const outcomeAttempt = processSpans.find((s) => parentOf(s) !== add!.spanContext().spanId);
      expect(probeAttempts.map((s) => s.spanContext().spanId)).toContain(parentOf(outcomeAttempt!));
      const [outcomeSpan] = spansNamed("checkback.check.outcome", traceId);
      expect(parentOf(outcomeSpan!)).toBe(outcomeAttempt!.spanContext().spanId);
      expect(outcomeSpan!.attributes["checkback.check.name"]).toBe(checkName);
    });
  });
}
