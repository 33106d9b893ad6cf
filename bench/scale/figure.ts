import type { Figure } from "../plot/plot.js";

/** One drain of the scaling run. */
export interface ScalePoint {
  target: string;
  workers: number;
  jobs: number;
  seconds: number;
  jobsPerSecond: number;
  addPerSecond: number;
  workerCpuUsPerJob: number;
  storeCpuUsPerJob: number;
  loadAverage: number;
}

/**
 * Throughput against worker processes, one line per store (the best of the repeats of a point:
 * on a shared machine the slower runs are the ones something else interrupted), and CPU per job
 * split between the worker processes and the store, as bars.
 */
export function scalingFigure(points: ScalePoint[], concurrency: number): Figure {
  const targets = [...new Set(points.map((p) => p.target))];
  const best = (target: string) => {
    const byWorkers = new Map<number, ScalePoint>();
    for (const p of points.filter((q) => q.target === target)) {
      const seen = byWorkers.get(p.workers);
      if (!seen || p.jobsPerSecond > seen.jobsPerSecond) byWorkers.set(p.workers, p);
    }
    return [...byWorkers.values()].sort((a, b) => a.workers - b.workers);
  };
  const bestPoints = targets.flatMap(best);
  return {
    title: "Drain throughput per worker process count (2-core machine, store on the same host)",
    subtitle: `no-op handler, concurrency ${concurrency} per process; bench/scale/run.ts`,
    columns: 1,
    chartWidth: 960,
    charts: [
      {
        kind: "lines",
        title: "jobs/s drained",
        xLabel: "worker processes",
        yLabel: "jobs/s",
        yFromZero: true,
        series: targets.map((target) => {
          const row = best(target);
          return { label: target, x: row.map((p) => p.workers), y: row.map((p) => p.jobsPerSecond) };
        }),
      },
      {
        kind: "bars",
        title: "CPU per job (µs): worker processes and store server",
        yLabel: "µs/job",
        categories: bestPoints.map((p) => `${short(p.target)} ${p.workers}`),
        series: [
          { label: "worker processes", values: bestPoints.map((p) => p.workerCpuUsPerJob) },
          { label: "store server", values: bestPoints.map((p) => p.storeCpuUsPerJob) },
        ],
      },
    ],
  };
}

function short(target: string): string {
  if (target.startsWith("PostgreSQL")) return "pg";
  if (target.startsWith("Redis Cluster")) return "cluster";
  return "redis";
}
