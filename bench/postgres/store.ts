import pg from "pg";
import { PostgresStore } from "../../packages/checkback/src/stores/postgres/postgres-store.js";
import type { Footprint } from "../runners/system.js";

/**
 * The PostgreSQL store for the benchmark: on DATABASE_URL (default the local test database), in
 * a schema of its own per benchmark process, so it can measure and drop exactly what it wrote.
 */
export const BENCH_DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export async function openPostgresBenchStore(databaseUrl = BENCH_DATABASE_URL): Promise<{
  store: PostgresStore;
  footprint(): Promise<Footprint>;
  cleanup(): Promise<void>;
}> {
  const schema = `checkback_bench_${process.pid}`;
  const store = new PostgresStore({ connectionString: databaseUrl, schema });
  const query = async <R extends pg.QueryResultRow>(text: string): Promise<R[]> => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      return (await client.query<R>(text)).rows;
    } finally {
      await client.end();
    }
  };
  return {
    store,
    footprint: async () => {
      // Table, indexes and TOAST of the jobs table: what the store holds on the server.
      const rows = await query<{ bytes: string | null }>(
        `SELECT pg_total_relation_size(to_regclass('"${schema}".jobs')) AS bytes`,
      );
      return { dbFileBytes: Number(rows[0]?.bytes ?? 0) };
    },
    cleanup: async () => {
      await query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    },
  };
}
