import type { SweepStatus } from "checkback";
import { Gauge, type Registry } from "prom-client";

/**
 * Gauges of each known sweep's newest run, read from the store at scrape time, so they are true
 * whichever process runs the sweep.
 */
export function registerSweepMetrics(registry: Registry, statuses: () => Promise<SweepStatus[]>): void {
  const gauges = {
    running: "1 while a run of the sweep is going, else 0",
    pages: "Pages read by the newest run",
    items: "Items handled by the newest run",
    failed_items: "Items of the newest run whose handler failed (handed to the item queue for retries)",
    items_per_second: "Items per second of the newest run",
    eta_seconds: "Estimated seconds to the end of the running run (−1 when unknown)",
    retrying_items: "Items waiting for a retry in the sweep's item queue",
    dead_items: "Items that used up their retries (the item queue's dead letters)",
  } as const;
  type Field = keyof typeof gauges;
  const fields: Record<Field, (status: SweepStatus) => number> = {
    running: (s) => (s.state === "running" ? 1 : 0),
    pages: (s) => s.run?.pages ?? 0,
    items: (s) => s.run?.items ?? 0,
    failed_items: (s) => s.run?.failed ?? 0,
    items_per_second: (s) => s.run?.rate ?? 0,
    eta_seconds: (s) => (s.run?.etaMs == null ? -1 : s.run.etaMs / 1000),
    retrying_items: (s) => s.retrying,
    dead_items: (s) => s.dead,
  };
  // One read of the statuses per scrape, shared by every gauge: the first one collected reads.
  let reading: Promise<SweepStatus[]> = Promise.resolve([]);
  for (const [field, help] of Object.entries(gauges) as [Field, string][]) {
    new Gauge({
      name: `checkback_sweep_${field}`,
      help,
      labelNames: ["sweep"] as const,
      registers: [registry],
      async collect() {
        if (field === "running") reading = statuses();
        const all = await reading;
        this.reset();
        for (const status of all) this.set({ sweep: status.name }, fields[field](status));
      },
    });
  }
}
