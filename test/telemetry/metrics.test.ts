import { describe, expect, it } from "vitest";
import { createCheckback, METRIC_NAMES, type MetricsHook, otelMetrics } from "../../packages/checkback/src/index.js";
import { waitFor } from "../support/wait.js";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function recordingHook(): MetricsHook & { samples: Sample[]; total(name: string, queue?: string): number } {
  const samples: Sample[] = [];
  return {
    samples,
    increment: (name, labels, by) => samples.push({ name, labels: { ...labels }, value: by }),
    observe: (name, labels, value) => samples.push({ name, labels: { ...labels }, value }),
    total: (name, queue) =>
      samples
        .filter((s) => s.name === name && (queue === undefined || s.labels.queue === queue))
        .reduce((sum, s) => sum + (name === METRIC_NAMES.lateness ? 1 : s.value), 0),
  };
}

describe("library metrics through createCheckback({ metrics })", () => {
  it("counts claims, completions, retries, dead letters, lease losses and check outcomes, and observes lateness", async () => {
    const hook = recordingHook();
    const checkback = createCheckback({ store: "memory:", metrics: hook });
    const queue = "metered";
    const calls = new Map<string, number>();
    checkback.worker<{ kind: string }>(
      queue,
      async (job) => {
        const n = (calls.get(job.id) ?? 0) + 1;
        calls.set(job.id, n);
        if (job.payload.kind === "retry-once" && n === 1) throw new Error("once");
        if (job.payload.kind === "dead") throw new Error("always");
        if (job.payload.kind === "lose") {
          // Cancelled while running: the heartbeat finds the lease gone and aborts the signal.
          await checkback.queue(queue).cancel(job.id);
          await new Promise((resolve) => job.signal.addEventListener("abort", resolve, { once: true }));
        }
      },
      { lease: "300ms", concurrency: 4 },
    );
    const q = checkback.queue<{ kind: string }>(queue);
    await q.add({ kind: "ok" });
    await q.add({ kind: "retry-once" }, { attempts: 2, backoff: 10 });
    await q.add({ kind: "dead" }, { attempts: 1 });
    await q.add({ kind: "lose" });
    let delivered = false;
    const check = checkback.check("paid", {
      schedule: { every: "10ms", times: 3 },
      probe: (ctx) => ctx.done(true),
      onDone: () => {
        delivered = true;
      },
    });
    await check.start("o-1", null);

    await waitFor(
      () =>
        hook.total(METRIC_NAMES.completed, queue) === 2 &&
        hook.total(METRIC_NAMES.leaseLosses, queue) === 1 &&
        hook.total(METRIC_NAMES.checkOutcomes) === 1,
      10_000,
    );
    expect(delivered).toBe(true);
    expect(hook.total(METRIC_NAMES.claimed, queue)).toBe(5);
    expect(hook.total(METRIC_NAMES.retries, queue)).toBe(1);
    expect(hook.total(METRIC_NAMES.deadLetters, queue)).toBe(1);
    expect(hook.total(METRIC_NAMES.lateness, queue)).toBe(5);
    const lateness = hook.samples.filter((s) => s.name === METRIC_NAMES.lateness);
    for (const sample of lateness) {
      expect(sample.labels).toMatchObject({ delivery: "worker" });
      expect(sample.value).toBeGreaterThanOrEqual(0);
    }
    expect(hook.samples.find((s) => s.name === METRIC_NAMES.checkOutcomes)?.labels).toEqual({
      check: "paid",
      outcome: "done",
    });
    await checkback.close();
  });

  it("refuses a hook that is not one", () => {
    expect(() => createCheckback({ store: "memory:", metrics: {} as MetricsHook })).toThrow(/increment and observe/);
  });

  it("writes OpenTelemetry instruments under the same names, jobs by state included", async () => {
    const counters = new Map<string, number>();
    const histograms = new Map<string, number[]>();
    const gauges: ((r: { observe(v: number, a?: Record<string, string>): void }) => Promise<void> | void)[] = [];
    const meter = {
      createCounter: (name: string) => ({ add: (v: number) => counters.set(name, (counters.get(name) ?? 0) + v) }),
      createHistogram: (name: string) => ({
        record: (v: number) => histograms.set(name, [...(histograms.get(name) ?? []), v]),
      }),
      createObservableGauge: (_name: string) => ({ addCallback: (cb: (typeof gauges)[number]) => gauges.push(cb) }),
    };
    const checkback = createCheckback({ store: "memory:" });
    const hook = otelMetrics(meter, { store: checkback.store });
    let done = 0;
    checkback.worker("otel", () => void done++, { metrics: hook });
    await checkback.queue("otel").add({});
    await waitFor(() => counters.get(METRIC_NAMES.completed) === 1, 5_000);
    expect(counters.get(METRIC_NAMES.claimed)).toBe(1);
    expect(histograms.get(METRIC_NAMES.lateness)).toHaveLength(1);
    const observed: [number, Record<string, string> | undefined][] = [];
    await gauges[0]!({ observe: (v, a) => observed.push([v, a]) });
    expect(observed).toContainEqual([1, { queue: "otel", state: "completed" }]);
    await checkback.close();
  });
});
