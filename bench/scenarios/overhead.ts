import type { BenchSystem } from "../runners/system.js";
import { runBurst } from "./burst.js";
import { runLight } from "./light.js";
import type { Metrics, ScenarioSettings } from "./settings.js";

/**
 * Flow-control overhead: the burst (live and drain) and the light load, on a queue opened with
 * the run's flow variant (runners/system.ts: none, or limits configured that never bind). Run.ts
 * runs it once per variant, alternating, and sets the figures side by side: a limit that does
 * not bind should cost little throughput and no lateness.
 */
export async function runOverhead(system: BenchSystem, settings: ScenarioSettings, runId: string): Promise<Metrics> {
  const burst = await runBurst(system, settings, runId);
  const light = await runLight(system, settings, runId);
  return {
    drainRate: burst.drainRate ?? null,
    drainCpuRate: burst.drainCpuRate ?? null,
    liveRate: burst.liveRate ?? null,
    liveLatenessP50: burst.latenessP50 ?? null,
    liveLatenessP99: burst.latenessP99 ?? null,
    lightLatenessP50: light.latenessP50 ?? null,
    lightLatenessP99: light.latenessP99 ?? null,
    lightLatenessMax: light.latenessMax ?? null,
    earlyStarts: (burst.earlyStarts ?? 0) + (light.earlyStarts ?? 0),
  };
}
