import { readFile } from "node:fs/promises";
import { availableParallelism, loadavg, totalmem } from "node:os";
import { redisVersion } from "./redis-info.js";

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGB: number;
  node: string;
  redis: string | null;
  postgres: string | null;
  /** 1-minute load average when the run started: other work on the machine skews every figure. */
  loadAverage: number;
}

/** What the figures were measured on, printed with them so they are never read without it. */
export async function describeMachine(redisUrl: string | null, databaseUrl: string | null = null): Promise<Machine> {
  const cpuinfo = await readFile("/proc/cpuinfo", "utf8").catch(() => "");
  return {
    cpus: availableParallelism(),
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    memoryGB: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    redis: redisUrl ? await redisVersion(redisUrl).catch(() => null) : null,
    // Loaded only when asked for, so a benchmark that measures its own RSS does not carry pg.
    postgres: databaseUrl
      ? await (await import("./postgres-info.js")).postgresVersion(databaseUrl).catch(() => null)
      : null,
    loadAverage: loadavg()[0]!,
  };
}
