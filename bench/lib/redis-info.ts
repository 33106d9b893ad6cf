import { Redis } from "ioredis";

export interface RedisStats {
  /** INFO memory used_memory: bytes allocated for data and overhead. */
  usedMemoryBytes: number;
  /** INFO cpu used_cpu_user + used_cpu_sys: CPU-seconds the server has used since it started. */
  cpuSeconds: number;
}

/**
 * Server-wide counters of the Redis a system runs on; a scenario reads them before and after
 * a phase and reports the difference (other clients of the same server show up in it too).
 */
export async function redisStats(redisUrl: string): Promise<RedisStats> {
  const client = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    const info = `${await client.info("memory")}\n${await client.info("cpu")}`;
    const field = (name: string) => {
      const match = new RegExp(`^${name}:([\\d.]+)`, "m").exec(info);
      if (!match) throw new Error(`Redis INFO did not report ${name}`);
      return Number(match[1]);
    };
    return { usedMemoryBytes: field("used_memory"), cpuSeconds: field("used_cpu_user") + field("used_cpu_sys") };
  } finally {
    client.disconnect();
  }
}

/**
 * Redis `INFO memory` used_memory: bytes the server allocated for data and overhead. It is
 * server-wide, so a scenario reads it before and after and reports the difference.
 */
export async function redisUsedMemory(redisUrl: string): Promise<number> {
  const client = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    const info = await client.info("memory");
    const match = /^used_memory:(\d+)/m.exec(info);
    if (!match) throw new Error("INFO memory did not report used_memory");
    return Number(match[1]);
  } finally {
    client.disconnect();
  }
}

export async function redisVersion(redisUrl: string): Promise<string> {
  const client = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    const info = await client.info("server");
    return /^redis_version:(\S+)/m.exec(info)?.[1] ?? "unknown";
  } finally {
    client.disconnect();
  }
}
