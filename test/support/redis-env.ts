import { Redis } from "ioredis";

/**
 * Where the Redis tests find their servers, and what happens when one is not there: the tests
 * skip with a loud warning on a developer machine, and fail under CI (CI=true), where a missing
 * service is a broken set-up, not a reason to pass.
 */
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const REDIS_CLUSTER_URL = process.env.REDIS_CLUSTER_URL ?? "redis://127.0.0.1:7001";

export async function reachable(url: string, what: string, howToStart: string): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch (error) {
    const message = `${what} at ${url} is unreachable (${(error as Error).message}).`;
    if (process.env.CI === "true") throw new Error(`${message} CI needs it: ${howToStart}`);
    console.warn(`\n!!! SKIPPING ${what} tests: ${message} Start it with: ${howToStart}\n`);
    return false;
  } finally {
    client.disconnect();
  }
}

/** Seed nodes of the cluster from REDIS_CLUSTER_URL ("redis://h:p" or "redis://h:p,h:p"). */
export function clusterNodes(url = REDIS_CLUSTER_URL): { host: string; port: number }[] {
  return url
    .replace(/^redis(\+cluster)?:\/\//, "")
    .split(",")
    .map((hostPort) => {
      const [host, port] = hostPort.split(":");
      return { host: host || "127.0.0.1", port: Number(port || 6379) };
    });
}
