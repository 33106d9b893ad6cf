import { MB } from "./lib/rss.js";
import type { ScenarioName } from "./report.js";
import type { BenchSystem, FlowVariant } from "./runners/system.js";
import { runBurst } from "./scenarios/burst.js";
import { runLight } from "./scenarios/light.js";
import { runOverhead } from "./scenarios/overhead.js";
import { runPending } from "./scenarios/pending.js";
import type { Metrics, ScenarioSettings } from "./scenarios/settings.js";
import { type SystemChoice, type SystemName, systemLabel } from "./systems.js";

/**
 * One scenario on one system, in a process of its own (forked by run.ts), so that each
 * process RSS figure belongs to that system and scenario alone.
 */
export interface ChildSpec extends SystemChoice {
  scenario: ScenarioName;
  system: SystemName;
  redisUrl: string;
  settings: ScenarioSettings;
  /** Far-future jobs for this system in the pending scenario. */
  pendingCount: number;
  /** flow-overhead: the variants to alternate in this process (runners/system.ts), and their rounds. */
  flowVariants?: FlowVariant[];
  rounds?: number;
}

export type ChildReply =
  | { ok: true; label: string; metrics: Metrics; variants?: Record<string, Metrics[]> }
  | { ok: false; label: string; error: string };

/** flow-overhead: one system per variant in this one process, alternated (scenarios/overhead.ts). */
async function overheadChild(spec: ChildSpec): Promise<ChildReply> {
  const label = spec.system === "bullmq" ? "BullMQ" : `checkback (${spec.store})`;
  try {
    const open =
      spec.system === "bullmq"
        ? async (variant: FlowVariant) => (await import("./runners/bullmq.js")).openBullmq(spec.redisUrl, variant)
        : async (variant: FlowVariant) =>
            (await import("./runners/checkback.js")).openCheckback(spec.store, { redisUrl: spec.redisUrl }, variant);
    const runId = `${process.pid}-${Date.now().toString(36)}`;
    const variants = await runOverhead(open, spec.flowVariants ?? ["none"], spec.rounds ?? 1, spec.settings, runId);
    return { ok: true, label, metrics: {}, variants };
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    return { ok: false, label, error: message };
  }
}

async function main(spec: ChildSpec): Promise<ChildReply> {
  let system: BenchSystem | undefined;
  try {
    const opened = await openSystem(spec);
    system = opened;
    const runId = `${process.pid}-${Date.now().toString(36)}`;
    // What the process holds before any job exists (Node, tsx, the libraries, connections).
    const rssBaselineMB = process.memoryUsage.rss() / MB;
    const scenarioMetrics =
      spec.scenario === "burst"
        ? await runBurst(opened, spec.settings, runId)
        : spec.scenario === "light"
          ? await runLight(opened, spec.settings, runId)
          : await runPending(opened, spec.settings, runId, spec.pendingCount);
    await opened.close();
    return { ok: true, label: opened.label, metrics: { ...scenarioMetrics, rssBaselineMB } };
  } catch (error) {
    await system?.close().catch(() => {});
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    return { ok: false, label: system?.label ?? systemLabel(spec.system, spec), error: message };
  }
}

/** Each runner is imported on demand, so a checkback process never loads BullMQ or pg-boss (and its RSS shows it). */
async function openSystem(spec: ChildSpec): Promise<BenchSystem> {
  switch (spec.system) {
    case "bullmq":
      return (await import("./runners/bullmq.js")).openBullmq(spec.redisUrl);
    case "pgboss":
      return (await import("./runners/pgboss.js")).openPgBoss({ refetchWhenFull: spec.pgbossRefetch });
    case "checkback":
      return (await import("./runners/checkback.js")).openCheckback(spec.store, { redisUrl: spec.redisUrl });
  }
}

const spec = JSON.parse(process.argv[2] ?? "null") as ChildSpec | null;
if (!spec || typeof process.send !== "function") {
  process.stderr.write("bench/child.ts is started by bench/run.ts\n");
  process.exit(2);
}
const reply = spec.scenario === "flow-overhead" ? await overheadChild(spec) : await main(spec);
process.send(reply, () => process.exit(reply.ok ? 0 : 1));
