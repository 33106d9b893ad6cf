import { rmSync } from "node:fs";
import { Redis } from "ioredis";
import pg from "pg";
import { PostgresStore } from "../../packages/checkback/src/stores/postgres/postgres-store.js";
import { RedisStore } from "../../packages/checkback/src/stores/redis/redis-store.js";
import { SqliteStore } from "../../packages/checkback/src/stores/sqlite/sqlite-store.js";
import type { Store } from "../../packages/checkback/src/stores/store.js";
import { BENCH_DATABASE_URL } from "../postgres/store.js";
import { deleteByPrefix } from "../redis/store.js";

/**
 * Where a multi-process run works: one SQLite file, one PostgreSQL, one Redis, or a Redis
 * Cluster. A target is plain data, so the coordinator can hand it to every worker process,
 * which opens its own store on it; `storePids` says which server processes do the store's work,
 * for CPU per job (none for SQLite: its work is done inside the worker processes).
 */
export type Target =
  | { kind: "sqlite"; path: string }
  | { kind: "postgres"; url: string; schema: string; applicationName: string }
  | { kind: "redis"; url: string; prefix: string }
  | { kind: "cluster"; nodes: { host: string; port: number }[]; prefix: string };

export function describeTarget(target: Target): string {
  if (target.kind === "sqlite") return "SQLite";
  if (target.kind === "postgres") return "PostgreSQL";
  if (target.kind === "redis") return "one Redis";
  return `Redis Cluster (${target.nodes.length} masters)`;
}

export function postgresTarget(runId: string, url = BENCH_DATABASE_URL): Target {
  return { kind: "postgres", url, schema: `checkback_scale_${runId}`, applicationName: `checkback-scale-${runId}` };
}

/** A store on the target; a PostgreSQL pool is tagged with the run's application_name so its backends can be found. */
export function openTargetStore(target: Target): { store: Store; close(): Promise<void> } {
  if (target.kind === "sqlite") return { store: new SqliteStore({ path: target.path }), close: async () => {} };
  if (target.kind === "postgres") {
    const pool = new pg.Pool({ connectionString: target.url, application_name: target.applicationName });
    pool.on("error", () => {});
    const store = new PostgresStore({ pool, schema: target.schema });
    return { store, close: () => pool.end() };
  }
  const store =
    target.kind === "redis"
      ? new RedisStore({ url: target.url, prefix: target.prefix, checkDurability: false })
      : new RedisStore({ cluster: { nodes: target.nodes }, prefix: target.prefix, checkDurability: false });
  return { store, close: async () => {} };
}

/**
 * The server processes doing this run's store work: the PostgreSQL backends of the run's
 * connections (not the WAL writer or checkpointer, shared with everyone), or the Redis servers
 * (the whole server: on a shared cluster other users' commands are in it too).
 */
export async function storePids(target: Target): Promise<number[]> {
  if (target.kind === "sqlite") return [];
  if (target.kind === "postgres") {
    const client = new pg.Client({ connectionString: target.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
        [target.applicationName],
      );
      return rows.map((r) => r.pid);
    } finally {
      await client.end();
    }
  }
  const urls = target.kind === "redis" ? [target.url] : target.nodes.map((n) => `redis://${n.host}:${n.port}`);
  const pids: number[] = [];
  for (const url of urls) {
    const client = new Redis(url);
    try {
      pids.push(Number(/process_id:(\d+)/.exec(await client.info("server"))![1]));
    } finally {
      client.disconnect();
    }
  }
  return pids;
}

/** Deletes the database files, drops the schema, or deletes the prefix's keys on every master. */
export async function cleanupTarget(target: Target): Promise<void> {
  if (target.kind === "sqlite") {
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${target.path}${suffix}`, { force: true });
    return;
  }
  if (target.kind === "postgres") {
    const client = new pg.Client({ connectionString: target.url });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS "${target.schema}" CASCADE`);
    } finally {
      await client.end();
    }
    return;
  }
  if (target.kind === "redis") {
    await deleteByPrefix(target.url, target.prefix);
    return;
  }
  // A cluster node refuses a multi-key UNLINK across slots: one UNLINK per key, pipelined.
  for (const node of target.nodes) {
    const client = new Redis(node.port, node.host);
    try {
      for await (const keys of client.scanStream({ match: `${target.prefix}:*`, count: 5_000 })) {
        const pipeline = client.pipeline();
        for (const key of keys as string[]) pipeline.unlink(key);
        await pipeline.exec();
      }
    } finally {
      client.disconnect();
    }
  }
}
