import { Redis } from "ioredis";

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
