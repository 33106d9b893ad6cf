import { formatNumber, markdownTable } from "./lib/table.js";
import type { Metrics } from "./scenarios/settings.js";

export type ScenarioName = "burst" | "light" | "pending" | "flow-overhead";
/** What `--scenario all` runs; flow-overhead compares runs of one system instead (overheadTable). */
export const SCENARIOS: readonly ScenarioName[] = ["burst", "light", "pending"];

/** Which way a figure is better; null for figures that only describe the run. */
type Better = "higher" | "lower" | null;

interface MetricSpec {
  key: string;
  label: string;
  better: Better;
  digits?: number;
}

const lateness = (prefix: string): MetricSpec[] => [
  { key: "latenessP50", label: `${prefix} lateness p50 (ms)`, better: "lower" },
  { key: "latenessP95", label: `${prefix} lateness p95 (ms)`, better: "lower" },
  { key: "latenessP99", label: `${prefix} lateness p99 (ms)`, better: "lower" },
  { key: "latenessMax", label: `${prefix} lateness max (ms)`, better: "lower" },
  { key: "earlyStarts", label: "handlers started before due", better: "lower" },
  { key: "noiseP99", label: "machine noise: idle-process timer lateness p99 (ms)", better: null },
  { key: "noiseMax", label: "machine noise: idle-process timer lateness max (ms)", better: null },
];

const PER_SCENARIO: Record<Exclude<ScenarioName, "flow-overhead">, MetricSpec[]> = {
  burst: [
    { key: "burstJobs", label: "jobs", better: null },
    { key: "enqueueLiveRate", label: "enqueue jobs/s (addBulk, worker running)", better: "higher" },
    { key: "liveRate", label: "live jobs/s (first add → last completion)", better: "higher" },
    ...lateness("live"),
    { key: "enqueueIdleRate", label: "enqueue jobs/s (addBulk, no worker)", better: "higher" },
    { key: "drainRate", label: "end-to-end jobs/s (drain, all due)", better: "higher" },
    { key: "drainCpuRate", label: "drain jobs per CPU-second (process + server)", better: "higher" },
    { key: "rssBaselineMB", label: "process RSS before any job (MB)", better: null },
    { key: "rssPeakMB", label: "process RSS peak (MB)", better: "lower" },
  ],
  light: [
    { key: "lightJobs", label: "jobs", better: null },
    { key: "producedRate", label: "jobs/s added (single add)", better: null },
    ...lateness(""),
    { key: "rssBaselineMB", label: "process RSS before any job (MB)", better: null },
    { key: "rssPeakMB", label: "process RSS peak (MB)", better: "lower" },
  ],
  pending: [
    { key: "pendingJobs", label: "pending jobs (far future)", better: null },
    { key: "pendingInsertRate", label: "pending insert jobs/s (addBulk)", better: "higher" },
    { key: "rssAfterInsertMB", label: "process RSS after insert (MB)", better: "lower" },
    { key: "dbFileMB", label: "database on disk (MB)", better: "lower" },
    { key: "redisMemoryMB", label: "Redis used_memory growth (MB)", better: "lower" },
    { key: "bytesPerPendingJob", label: "bytes held per pending job", better: "lower" },
    { key: "lightJobs", label: "near-due jobs fired", better: null },
    ...lateness("near-due"),
    { key: "rssBaselineMB", label: "process RSS before any job (MB)", better: null },
    { key: "rssPeakMB", label: "process RSS peak (MB)", better: "lower" },
    { key: "cleanupSeconds", label: "queue clean-up afterwards (s)", better: null, digits: 1 },
  ],
};

const OVERHEAD_METRICS: MetricSpec[] = [
  { key: "drainRate", label: "end-to-end jobs/s (drain, all due)", better: "higher" },
  { key: "drainCpuRate", label: "drain jobs per CPU-second (process + Redis server)", better: "higher" },
  { key: "lightLatenessP50", label: "light-load lateness p50 (ms)", better: "lower" },
  { key: "lightLatenessP99", label: "light-load lateness p99 (ms)", better: "lower" },
  { key: "lightLatenessMax", label: "light-load lateness max (ms)", better: "lower" },
  { key: "earlyStarts", label: "handlers started before due", better: "lower" },
  { key: "loadStart", label: "load average at start", better: null, digits: 1 },
  { key: "loadEnd", label: "load average at end", better: null, digits: 1 },
];

export const METRICS: Record<ScenarioName, MetricSpec[]> = { ...PER_SCENARIO, "flow-overhead": OVERHEAD_METRICS };

/**
 * A rate as the ratio to the baseline (×0.97); a lateness, a few ms near zero where a ratio says
 * nothing, as the difference (+2 ms).
 */
function versus(spec: MetricSpec, value: number | null, base: number | null): string {
  if (value === null || base === null || spec.better === null) return "–";
  if (spec.key.includes("Lateness") || spec.key === "earlyStarts") {
    const diff = value - base;
    return `${diff >= 0 ? "+" : "−"}${formatNumber(Math.abs(diff))}${spec.key === "earlyStarts" ? "" : " ms"}`;
  }
  return base === 0 ? "–" : `×${(value / base).toFixed(2)}`;
}

/** The runs of one system with one flow variant (alternated with the other variants' runs). */
export interface VariantRuns {
  system: string;
  variant: string;
  runs: (Metrics | null)[];
}

/**
 * Flow-control overhead: per system, each variant's median over its rounds beside the baseline
 * (the first variant, "none"), and how it compares (versus). Every run's own figures are
 * listed under the table, so a noisy one can be seen for what it is.
 */
export function overheadTable(groups: VariantRuns[]): string {
  // The median: one round hit by a neighbour's burst of work moves it little.
  const median = (group: VariantRuns, key: string): number | null => {
    const values = group.runs
      .map((m) => m?.[key])
      .filter((v): v is number => typeof v === "number")
      .sort((a, b) => a - b);
    if (values.length === 0) return null;
    const mid = Math.floor(values.length / 2);
    return values.length % 2 === 1 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2;
  };
  const header = ["metric"];
  const columns: { group: VariantRuns; baseline: VariantRuns | null }[] = [];
  for (const group of groups) {
    const baseline = groups.find((g) => g.system === group.system) ?? null;
    const isBaseline = baseline === group;
    header.push(`${group.system}, ${group.variant}`);
    if (!isBaseline) header.push(`${group.variant} vs ${baseline!.variant}`);
    columns.push({ group, baseline: isBaseline ? null : baseline });
  }
  const rows = OVERHEAD_METRICS.map((spec) => {
    const arrow = spec.better === "higher" ? " ↑" : spec.better === "lower" ? " ↓" : "";
    const row = [spec.label + arrow];
    for (const { group, baseline } of columns) {
      const value = median(group, spec.key);
      row.push(formatNumber(value, spec.digits ?? (Math.abs(value ?? 0) < 10 && value !== 0 ? 1 : 0)));
      if (baseline) row.push(versus(spec, value, median(baseline, spec.key)));
    }
    return row;
  });
  const each = groups.flatMap((group) =>
    group.runs.map(
      (m, i) =>
        `- ${group.system}, ${group.variant}, round ${i + 1}: ` +
        (m === null
          ? "failed"
          : `drain ${formatNumber(m.drainRate)} jobs/s, ${formatNumber(m.drainCpuRate)} per CPU-s, ` +
            `light p99 ${formatNumber(m.lightLatenessP99)} ms, load ${formatNumber(m.loadStart, 1)} → ${formatNumber(m.loadEnd, 1)}`),
    ),
  );
  return `${markdownTable(header, rows)}\n\n${each.join("\n")}`;
}

export interface SystemRun {
  label: string;
  metrics: Metrics | null;
  error?: string;
  /** flow-overhead: each variant's rounds. */
  variants?: Record<string, Metrics[]>;
}

/**
 * One scenario's table: checkback beside each other system, one ratio column per other system
 * (checkback / that system), and which system the row favours given the figure's direction
 * (↑ higher is better, ↓ lower is better).
 */
export function scenarioTable(scenario: ScenarioName, runs: SystemRun[]): string {
  const [ours, ...others] = runs;
  const compares = ours !== undefined && others.length > 0;
  const header = ["metric", ...runs.map((r) => r.label)];
  if (compares) header.push(...others.map((other) => `ratio ${shortName(ours)} / ${other.label}`), "better");
  const rows = METRICS[scenario]
    .filter((spec) => runs.some((run) => typeof run.metrics?.[spec.key] === "number"))
    .map((spec) => {
      const arrow = spec.better === "higher" ? " ↑" : spec.better === "lower" ? " ↓" : "";
      const digits = spec.digits ?? (spec.key.endsWith("MB") ? 1 : 0);
      const row = [spec.label + arrow, ...runs.map((run) => formatNumber(run.metrics?.[spec.key], digits))];
      if (compares) {
        row.push(...others.map((other) => ratio(ours.metrics?.[spec.key], other.metrics?.[spec.key])));
        row.push(better(spec.better, runs, spec.key));
      }
      return row;
    });
  const failures = runs.filter((r) => r.error).map((r) => `\n${r.label} failed: ${r.error}`);
  return markdownTable(header, rows) + failures.join("");
}

/** "checkback" for "checkback (sqlite)": the store is in its column heading already. */
function shortName(run: SystemRun): string {
  return run.label.split(" ")[0]!;
}

function ratio(a: number | null | undefined, b: number | null | undefined): string {
  if (typeof a !== "number" || typeof b !== "number") return "–";
  return b === 0 ? (a === 0 ? "1.00" : "∞") : (a / b).toFixed(2);
}

/** The system(s) with the best figure of the row; "even" when every system has the same. */
function better(direction: Better, runs: SystemRun[], key: string): string {
  const measured = runs.flatMap((run, i) => {
    const value = run.metrics?.[key];
    return typeof value === "number" ? [{ name: i === 0 ? shortName(run) : run.label, value }] : [];
  });
  if (measured.length < 2) return "–";
  if (direction === null) return "";
  const values = measured.map((m) => m.value);
  const best = direction === "higher" ? Math.max(...values) : Math.min(...values);
  if (values.every((v) => v === best)) return "even";
  return measured
    .filter((m) => m.value === best)
    .map((m) => m.name)
    .join(" = ");
}

export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean;
}

/** The issue's targets, checked against checkback's own figures. */
export function checkTargets(results: Partial<Record<ScenarioName, Metrics | null>>): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const light = results.light;
  const burst = results.burst;
  const pending = results.pending;
  if (light?.latenessP99 != null) {
    checks.push({
      target: "light load: lateness p99 ≤ 5 ms",
      measured: `${light.latenessP99} ms`,
      met: light.latenessP99 <= 5,
    });
  }
  if (burst?.drainRate != null) {
    checks.push({
      target: "≥ 20,000 jobs/s end-to-end",
      measured: `${formatNumber(burst.drainRate)} jobs/s`,
      met: burst.drainRate >= 20_000,
    });
  }
  if (pending?.rssPeakMB != null) {
    checks.push({
      target: `${formatNumber(pending.pendingJobs)} pending: process RSS < 200 MB`,
      measured: `peak ${formatNumber(pending.rssPeakMB, 1)} MB (after insert ${formatNumber(pending.rssAfterInsertMB, 1)} MB)`,
      met: pending.rssPeakMB < 200,
    });
  }
  if (pending?.latenessP99 != null) {
    const baseline = light?.latenessP99;
    checks.push({
      target: "near-due lateness unchanged by the backlog (p99 still ≤ 5 ms)",
      measured: `p99 ${pending.latenessP99} ms${baseline == null ? "" : ` (light run: ${baseline} ms)`}, max ${pending.latenessMax} ms`,
      met: pending.latenessP99 <= 5,
    });
  }
  return checks;
}

export function targetsTable(checks: TargetCheck[]): string {
  return markdownTable(
    ["target", "checkback", "met"],
    checks.map((c) => [c.target, c.measured, c.met ? "yes" : "NO"]),
  );
}
