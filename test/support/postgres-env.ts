import pg from "pg";

/**
 * Where the PostgreSQL tests find their server, and what happens when it is not there: the
 * tests skip with a loud warning on a developer machine, and fail under CI (CI=true), where a
 * missing service is a broken set-up, not a reason to pass.
 */
export const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export async function postgresReachable(url = DATABASE_URL): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch (error) {
    const message = `PostgreSQL at ${url} is unreachable (${(error as Error).message || (error as { code?: string }).code}).`;
    const howToStart = "start PostgreSQL and create the database, or set DATABASE_URL";
    if (process.env.CI === "true") throw new Error(`${message} CI needs it: ${howToStart}`);
    console.warn(`\n!!! SKIPPING PostgreSQL tests: ${message} To run them: ${howToStart}\n`);
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** A schema name of its own per test file, so runs never see each other's jobs. */
export function randomSchema(prefix = "cbtest"): string {
  return `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
}

export async function dropSchema(schema: string, url = DATABASE_URL): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
