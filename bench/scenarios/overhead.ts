import { loadavg } from "node:os";
import { note } from "../lib/progress.js";
import { formatNumber } from "../lib/table.js";
import type { BenchSystem, FlowVariant } from "../runners/system.js";
import { measureDrain } from "./burst.js";
import { runLight } from "./light.js";
import type { Metrics, ScenarioSettings } from "./settings.js";

/**
 * Flow-control overhead: what flow control costs when it does not bind. One process holds one
 * system per variant (runners/system.ts: none; limits configured far above what the run can
 * reach; the same with every job in a group) and runs, round after round, each variant's drain
 * (throughput, CPU per job) and light load (lateness), the order of the variants reversed every
 * other round, after one drain of each that is not counted (the JIT's warm-up). A change in the machine's load thus falls on every variant alike, where separate
 * processes run minutes apart would see different machines: on a shared 2-core host that is
 * the difference between reading the overhead and reading the neighbours.
 */
export async function runOverhead(
  open: (variant: FlowVariant) => Promise<BenchSystem>,
  variants: FlowVariant[],
  rounds: number,
  settings: ScenarioSettings,
  runId: string,
): Promise<Record<string, Metrics[]>> {
  const systems = new Map<FlowVariant, BenchSystem>();
  const runs: Record<string, Metrics[]> = Object.fromEntries(variants.map((v) => [v, []]));
  try {
    for (const variant of variants) systems.set(variant, await open(variant));
    // A drain of each, not counted: the first rounds would otherwise pay for the JIT's warm-up.
    for (const variant of variants) {
      await measureDrain(
        systems.get(variant)!,
        { ...settings, jobs: Math.min(settings.jobs, 5_000) },
        `${runId}-warm-${variant}`,
      );
    }
    for (let round = 0; round < rounds; round++) {
      for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) {
        const system = systems.get(variant)!;
        const loadStart = loadavg()[0]!;
        const id = `${runId}-${variant}-${round}`;
        const drain = await measureDrain(system, settings, id);
        const light = await runLight(system, settings, id);
        runs[variant]!.push({
          drainRate: drain.drainRate,
          drainCpuRate: drain.drainCpuRate,
          lightLatenessP50: light.latenessP50 ?? null,
          lightLatenessP99: light.latenessP99 ?? null,
          lightLatenessMax: light.latenessMax ?? null,
          earlyStarts: light.earlyStarts ?? null,
          loadStart,
          loadEnd: loadavg()[0]!,
        });
        note(
          `${system.label}, ${variant}, round ${round + 1} of ${rounds}: drain ${formatNumber(drain.drainRate)} jobs/s, ` +
            `${formatNumber(drain.drainCpuRate)} per CPU-s, light p99 ${light.latenessP99} ms, load ${loadStart.toFixed(1)}`,
        );
      }
    }
  } finally {
    for (const system of systems.values()) await system.close().catch(() => {});
  }
  return runs;
}
