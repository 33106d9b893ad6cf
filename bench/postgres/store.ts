import { PostgresStore } from "../../packages/checkback/src/stores/postgres/postgres-store.js";
import { BackendCpu, dropSchema, schemaBytes, withApplicationName } from "../lib/postgres-info.js";
import type { Footprint } from "../runners/system.js";

/**
 * The PostgreSQL store for the benchmark: on DATABASE_URL (default the local test database), in
 * a schema of its own per benchmark process, so it can measure and drop exactly what it wrote.
 * Its connections carry an application_name of their own, so the server CPU they cost can be read.
 */
export const BENCH_DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export async function openPostgresBenchStore(databaseUrl = BENCH_DATABASE_URL): Promise<{
  store: PostgresStore;
  footprint(): Promise<Footprint>;
  cleanup(): Promise<void>;
}> {
  const schema = `checkback_bench_${process.pid}`;
  const applicationName = `checkback-bench-${process.pid}`;
  const store = new PostgresStore({ connectionString: withApplicationName(databaseUrl, applicationName), schema });
  const backends = new BackendCpu(databaseUrl, applicationName);
  return {
    store,
    footprint: async () => ({
      dbFileBytes: await schemaBytes(databaseUrl, schema),
      postgresCpuSeconds: await backends.read(),
    }),
    cleanup: () => dropSchema(databaseUrl, schema),
  };
}
