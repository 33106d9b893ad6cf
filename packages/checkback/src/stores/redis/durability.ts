import type { Cluster, Redis } from "ioredis";

/**
 * The Redis settings under which "nothing acknowledged to a producer is lost" holds:
 *
 *   appendonly yes           without the AOF, a restart loses every job since the last RDB
 *                            snapshot (minutes of work by default).
 *   appendfsync everysec     Redis writes each command to the AOF before it replies, so a
 *            or always       killed or restarted Redis loses nothing; everysec fsyncs once a
 *                            second, so a power loss or kernel crash can lose up to ~1 s of
 *                            acknowledged jobs; always fsyncs before replying (nothing lost,
 *                            each write waits for the disk). "no" leaves flushing to the OS.
 *   maxmemory-policy         anything else lets a full Redis silently evict job records and
 *            noeviction      index buckets; noeviction makes it refuse new jobs instead.
 *
 * The store checks them at start-up on every master it talks to and warns (it does not
 * refuse to run: a cache-only or test Redis is a legitimate choice).
 */
export interface DurabilityProblem {
  node: string;
  setting: string;
  value: string | null;
  why: string;
}

const REQUIRED: { setting: string; ok: (value: string) => boolean; why: string }[] = [
  {
    setting: "appendonly",
    ok: (v) => v === "yes",
    why: "without the append-only file a restart loses every job since the last snapshot; set appendonly yes",
  },
  {
    setting: "appendfsync",
    ok: (v) => v === "everysec" || v === "always",
    why: "set appendfsync everysec (a power loss may lose ~1 s) or always (nothing lost, slower writes)",
  },
  {
    setting: "maxmemory-policy",
    ok: (v) => v === "noeviction",
    why: "an eviction policy lets a full Redis delete jobs; set maxmemory-policy noeviction",
  },
];

export async function checkDurability(client: Redis | Cluster): Promise<DurabilityProblem[]> {
  if ("nodes" in client && client.status !== "ready") {
    // A cluster knows its masters only once it has loaded the slot map.
    await new Promise<void>((resolve) => {
      client.once("ready", () => resolve());
      client.once("end", () => resolve());
    });
  }
  const nodes: Redis[] = "nodes" in client ? client.nodes("master") : [client];
  const problems: DurabilityProblem[] = [];
  for (const node of nodes) {
    const name = `${node.options.host ?? "127.0.0.1"}:${node.options.port ?? 6379}`;
    let config: Map<string, string>;
    try {
      const flat = (await node.call("CONFIG", "GET", "*")) as string[];
      config = new Map();
      for (let i = 0; i < flat.length; i += 2) config.set(flat[i]!, flat[i + 1]!);
    } catch (error) {
      problems.push({
        node: name,
        setting: "CONFIG",
        value: null,
        why: `could not read the server's settings (${(error as Error).message}); make sure appendonly, appendfsync and maxmemory-policy are set as docs/redis.md describes`,
      });
      continue;
    }
    for (const rule of REQUIRED) {
      const value = config.get(rule.setting) ?? null;
      if (value === null || !rule.ok(value)) problems.push({ node: name, setting: rule.setting, value, why: rule.why });
    }
  }
  return problems;
}

export function describeProblems(problems: DurabilityProblem[]): string {
  const lines = problems.map((p) => `  ${p.node} ${p.setting}=${p.value ?? "?"}: ${p.why}`);
  return `checkback: this Redis may lose acknowledged jobs:\n${lines.join("\n")}`;
}
