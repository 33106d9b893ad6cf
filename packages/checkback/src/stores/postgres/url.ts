import { invalidOption } from "../../core/errors.js";
import { PostgresStore } from "./postgres-store.js";

/**
 * Store URLs for PostgreSQL: "postgres://user:password@host:5432/database" (or postgresql://).
 * `schema=<name>` chooses the schema holding checkback's tables (default "checkback"); every
 * other query parameter (sslmode, application_name…) is pg's and passed on untouched.
 */
export function openPostgresStore(url: string): PostgresStore {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidOption(`not a PostgreSQL URL: ${JSON.stringify(url.replace(/:[^:@/]*@/, ":***@"))}`);
  }
  const schema = parsed.searchParams.get("schema");
  if (schema === null) return new PostgresStore({ connectionString: url });
  parsed.searchParams.delete("schema");
  return new PostgresStore({ connectionString: parsed.toString(), schema });
}
