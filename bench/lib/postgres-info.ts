import pg from "pg";
import { cpuSeconds } from "../scale/cpu.js";

/**
 * What a PostgreSQL-backed system costs the server, for the benchmark's footprint: the bytes its
 * schema holds and the CPU of the backends serving its connections. Each query runs on a
 * connection of its own, opened without the system's application_name, so the measuring never
 * counts itself.
 */

/** The same URL with `application_name` set, so the system's backends can be found in pg_stat_activity. */
export function withApplicationName(databaseUrl: string, applicationName: string): string {
  const url = new URL(databaseUrl);
  url.searchParams.set("application_name", applicationName);
  return url.toString();
}

export async function withClient<T>(databaseUrl: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** Tables, their indexes and TOAST, summed over every table in `schema` (partitions included). */
export async function schemaBytes(databaseUrl: string, schema: string): Promise<number> {
  const rows = await withClient(databaseUrl, async (client) => {
    const result = await client.query<{ bytes: string | null }>(
      `SELECT sum(pg_total_relation_size(c.oid)) AS bytes
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind = 'r'`,
      [schema],
    );
    return result.rows;
  });
  return Number(rows[0]?.bytes ?? 0);
}

export async function dropSchema(databaseUrl: string, schema: string): Promise<void> {
  await withClient(databaseUrl, (client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}

export async function postgresVersion(databaseUrl: string): Promise<string> {
  return withClient(databaseUrl, async (client) => {
    const result = await client.query<{ server_version: string }>("SHOW server_version");
    return result.rows[0]!.server_version.split(" ")[0]!;
  });
}

/**
 * CPU seconds used by the backends whose application_name is `applicationName`, read from
 * /proc/<pid>/stat (the server runs on this host). Cumulative over every backend seen at any
 * reading: a backend that has ended keeps its last reading, so the difference between two
 * readings only misses what a backend did after the last reading before it ended (a pool closes
 * a connection only after it has sat idle, so that is little).
 */
export class BackendCpu {
  private readonly lastSeen = new Map<number, number>();

  constructor(
    private readonly databaseUrl: string,
    private readonly applicationName: string,
  ) {}

  async read(): Promise<number> {
    const pids = await withClient(this.databaseUrl, async (client) => {
      const result = await client.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
        [this.applicationName],
      );
      return result.rows.map((row) => row.pid);
    });
    for (const pid of pids) {
      const seconds = cpuSeconds(pid);
      if (seconds > 0) this.lastSeen.set(pid, seconds);
    }
    let total = 0;
    for (const seconds of this.lastSeen.values()) total += seconds;
    return total;
  }
}
