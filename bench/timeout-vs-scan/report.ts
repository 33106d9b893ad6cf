import { readFile } from "node:fs/promises";
import { formatNumber, markdownTable } from "../lib/table.js";
import { type Chart, renderPng } from "../plot/plot.js";
import type { RunResult } from "./run.js";

/**
 * The timeout-vs-scan results side by side (Markdown, for docs/benchmarks.md) and as a PNG:
 * lateness CDFs per store and order count, and orders-table rows read per close.
 */
export interface Comparison {
  machine: string;
  queue: RunResult;
  scan: RunResult;
}

const MB = 1024 * 1024;
/** Blues for the delay queue, reds for the scan: darker for the first order count, lighter after. */
const QUEUE_COLORS = ["#1f4e9c", "#4f8fd6", "#9cc3ee"];
const SCAN_COLORS = ["#b51f1f", "#e8663d", "#f3ae8f"];

function seconds(ms: number): string {
  return ms >= 10_000 ? `${formatNumber(ms / 1000, 1)} s` : `${formatNumber(ms, 0)} ms`;
}

function ratio(a: number | null | undefined, b: number | null | undefined): string {
  if (a == null || b == null || b === 0) return "–";
  return `${(a / b).toFixed(a / b >= 10 ? 0 : 2)}×`;
}

export function comparisonTable({ queue: q, scan: s }: Comparison): string {
  const closed = (r: RunResult) => Math.max(1, r.closed);
  const perOrder = (r: RunResult, v: number) => v / Math.max(1, r.created);
  const storeRows = (r: RunResult) =>
    r.storeTuples ? r.storeTuples.read + r.storeTuples.inserted + r.storeTuples.updated + r.storeTuples.deleted : null;
  const rows: [string, string, string, string][] = [
    [
      "orders created / paid / closed",
      `${q.created} / ${q.paid} / ${q.closed}`,
      `${s.created} / ${s.paid} / ${s.closed}`,
      "",
    ],
    ["close lateness p50", seconds(q.lateness.p50), seconds(s.lateness.p50), ratio(s.lateness.p50, q.lateness.p50)],
    ["close lateness p99", seconds(q.lateness.p99), seconds(s.lateness.p99), ratio(s.lateness.p99, q.lateness.p99)],
    ["close lateness max", seconds(q.lateness.max), seconds(s.lateness.max), ratio(s.lateness.max, q.lateness.max)],
    [
      "orders rows read per close",
      formatNumber(q.ordersRowsReadPerClose, 2),
      formatNumber(s.ordersRowsReadPerClose, 2),
      "",
    ],
    [
      "orders rows read per close (pg_stat)",
      q.ordersTuples ? formatNumber(q.ordersTuples.read / closed(q), 2) : "–",
      s.ordersTuples ? formatNumber(s.ordersTuples.read / closed(s), 2) : "–",
      "",
    ],
    [
      "queries closing took, per close",
      formatNumber(q.closingQueries / closed(q), 3),
      formatNumber(s.closingQueries / closed(s), 3),
      ratio(s.closingQueries / closed(s), q.closingQueries / closed(q)),
    ],
    [
      "store rows touched per order (pg_stat: read + ins + upd + del)",
      storeRows(q) == null ? "–" : formatNumber(perOrder(q, storeRows(q)!), 2),
      storeRows(s) == null ? "–" : formatNumber(perOrder(s, storeRows(s)!), 2),
      "",
    ],
    [
      "store CPU (s)",
      formatNumber(q.storeCpuSeconds, 1),
      formatNumber(s.storeCpuSeconds, 1),
      ratio(s.storeCpuSeconds, q.storeCpuSeconds),
    ],
    [
      "store CPU per order (ms)",
      formatNumber((q.storeCpuSeconds * 1000) / q.created, 3),
      formatNumber((s.storeCpuSeconds * 1000) / s.created, 3),
      "",
    ],
    [
      "store bytes written (MB)",
      formatNumber(q.storeWriteBytes / MB, 1),
      formatNumber(s.storeWriteBytes / MB, 1),
      ratio(s.storeWriteBytes, q.storeWriteBytes),
    ],
    [
      "WAL, server-wide (MB)",
      q.walBytes == null ? "–" : formatNumber(q.walBytes / MB, 1),
      s.walBytes == null ? "–" : formatNumber(s.walBytes / MB, 1),
      ratio(s.walBytes, q.walBytes),
    ],
    [
      "store size at end (MB)",
      formatNumber(q.storeBytes / MB, 1),
      formatNumber(s.storeBytes / MB, 1),
      ratio(s.storeBytes, q.storeBytes),
    ],
    [
      q.spec.store === "postgres" ? "backends' private memory peak (MB)" : "process RSS peak (MB)",
      formatNumber(q.storeRssPeakBytes / MB, 1),
      formatNumber(s.storeRssPeakBytes / MB, 1),
      ratio(s.storeRssPeakBytes, q.storeRssPeakBytes),
    ],
  ];
  if (q.spec.store === "postgres") {
    rows.push(
      [
        "Node process CPU (s)",
        formatNumber(q.nodeCpuSeconds, 1),
        formatNumber(s.nodeCpuSeconds, 1),
        ratio(s.nodeCpuSeconds, q.nodeCpuSeconds),
      ],
      [
        "Node process RSS peak (MB)",
        formatNumber(q.nodeRssPeakBytes / MB, 1),
        formatNumber(s.nodeRssPeakBytes / MB, 1),
        ratio(s.nodeRssPeakBytes, q.nodeRssPeakBytes),
      ],
    );
  }
  rows.push(
    ["run time (real s)", formatNumber(q.realSeconds, 0), formatNumber(s.realSeconds, 0), ""],
    ["producer behind schedule, max (real ms)", formatNumber(q.producerLagMaxMs), formatNumber(s.producerLagMaxMs), ""],
  );
  return markdownTable(["metric", q.label, s.label, "scan / queue"], rows);
}

export function comparisonHeading({ queue: q, machine }: Comparison): string {
  const { store, orders, speed, windowMinutes, paidShare } = q.spec;
  return (
    `${store}, ${formatNumber(orders)} orders over ${windowMinutes} min, ${Math.round(paidShare * 100)}% paid, ` +
    `time ×${speed} (timeout 30 min → ${formatNumber(1800 / speed)} s, scan 20 s → ${formatNumber(20 / speed, 1)} s); ${machine}`
  );
}

export async function readComparisons(paths: string[]): Promise<Comparison[]> {
  return Promise.all(paths.map(async (path) => JSON.parse(await readFile(path, "utf8")) as Comparison));
}

/** Lateness CDFs (one chart per store, every order count in it) and rows read per close. */
export async function renderComparisonPng(comparisons: Comparison[], outPath: string): Promise<void> {
  const stores = [...new Set(comparisons.map((c) => c.queue.spec.store))];
  const name = (c: Comparison) => `${c.queue.spec.store} ${formatNumber(c.queue.spec.orders)}`;
  const charts: Chart[] = stores.map((store) => ({
    kind: "lines",
    title: `Close lateness, ${store} (un-scaled; CDF)`,
    xLabel: "close − (created + 30 min), ms (log)",
    yLabel: "share of closes",
    xLog: true,
    series: comparisons
      .filter((c) => c.queue.spec.store === store)
      .flatMap((c, i) =>
        [c.queue, c.scan].map((r) => ({
          color: (r.spec.approach === "queue" ? QUEUE_COLORS : SCAN_COLORS)[i % 3],
          label: `${r.spec.approach === "queue" ? "queue" : "scan"} ${formatNumber(r.spec.orders)}`,
          x: r.lateness.cdf.map(([ms]) => Math.max(1, ms)),
          y: r.lateness.cdf.map(([, share]) => share),
          stepped: true,
        })),
      ),
  }));
  charts.push({
    kind: "bars",
    title: "Orders-table queries per close",
    yLabel: "queries per closed order",
    categories: comparisons.map(name),
    series: [
      {
        label: "delay queue",
        color: QUEUE_COLORS[0],
        values: comparisons.map((c) => c.queue.closingQueries / Math.max(1, c.queue.closed)),
      },
      {
        label: "scan every 20 s",
        color: SCAN_COLORS[0],
        values: comparisons.map((c) => c.scan.closingQueries / Math.max(1, c.scan.closed)),
      },
    ],
  });
  charts.push({
    kind: "bars",
    title: "Store CPU per order",
    yLabel: "ms per order",
    categories: comparisons.map(name),
    series: [
      {
        label: "delay queue",
        color: QUEUE_COLORS[0],
        values: comparisons.map((c) => (c.queue.storeCpuSeconds * 1000) / c.queue.created),
      },
      {
        label: "scan every 20 s",
        color: SCAN_COLORS[0],
        values: comparisons.map((c) => (c.scan.storeCpuSeconds * 1000) / c.scan.created),
      },
    ],
  });
  await renderPng(
    {
      title: "Order timeout: delay queue vs a scan every 20 s",
      subtitle:
        `time ×${comparisons[0]?.queue.spec.speed ?? "?"}, lateness un-scaled; ` +
        "2 CPUs shared with other work: read the ratios (see docs/benchmarks.md)",
      charts,
    },
    outPath,
  );
}
