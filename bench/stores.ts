import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryStore } from "../packages/checkback/src/stores/memory/memory-store.js";
import { SqliteStore } from "../packages/checkback/src/stores/sqlite/sqlite-store.js";
import type { Store } from "../packages/checkback/src/stores/store.js";
import type { Footprint } from "./runners/system.js";

/**
 * The stores the benchmark can drive checkback on. Each factory opens a fresh, empty store
 * that belongs to one benchmark process, and knows how to measure and remove what it leaves
 * behind. To benchmark another backend, add its kind to STORE_KINDS and a factory below.
 */
export const STORE_KINDS = ["sqlite", "memory", "redis", "postgres"] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

export interface BenchStore {
  store: Store;
  /** Memory or disk the store holds outside this process's heap. */
  footprint(): Promise<Footprint>;
  /** Deletes temporary files or keys; called after the store is closed. */
  cleanup(): Promise<void>;
}

export interface StoreContext {
  redisUrl: string;
}

type StoreFactory = (context: StoreContext) => Promise<BenchStore>;

export const storeFactories: Record<StoreKind, StoreFactory> = {
  memory: async () => ({
    store: new MemoryStore(),
    footprint: async () => ({}),
    cleanup: async () => {},
  }),

  sqlite: async () => {
    const dir = await mkdtemp(join(tmpdir(), "checkback-bench-"));
    const path = join(dir, "bench.db");
    return {
      store: new SqliteStore({ path }),
      footprint: async () => ({ dbFileBytes: await filesSize([path, `${path}-wal`]) }),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },

  // The drivers are loaded when their store is opened: a SQLite run's RSS must not carry them.
  redis: async (context) => (await import("./redis/store.js")).openRedisBenchStore(context.redisUrl),

  // DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test.
  postgres: async () => (await import("./postgres/store.js")).openPostgresBenchStore(),
};

export function openBenchStore(kind: StoreKind, context: StoreContext): Promise<BenchStore> {
  return storeFactories[kind](context);
}

async function filesSize(paths: string[]): Promise<number> {
  let total = 0;
  for (const path of paths) {
    total += await stat(path).then(
      (s) => s.size,
      () => 0,
    );
  }
  return total;
}
