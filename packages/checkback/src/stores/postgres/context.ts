import { createHash } from "node:crypto";
import type { QueryResult, QueryResultRow } from "pg";
import type { AddOutcome, NewJob } from "../store.js";
import { quoteIdent } from "./schema.js";

/** What an operation runs statements on: a pg.Pool, a pool client, or a caller's own client. */
export interface Queryable {
  // biome-ignore lint/suspicious/noExplicitAny: pg's own default row type
  query<R extends QueryResultRow = any>(
    config: string | { name?: string; text: string; values?: unknown[] },
    values?: unknown[],
  ): Promise<QueryResult<R>>;
}

/** A statement's text and the name it is prepared under on each connection. */
export interface Statement {
  name: string;
  text: string;
}

/**
 * Statement texts for one schema. Each operation module writes its SQL as a function of the
 * schema's names (`jobs` table, `now` clock); the text is built once per schema and given a name
 * derived from its content, so pg prepares it once per connection and later calls skip parsing
 * and planning. Equal texts get equal names, so store instances sharing a pool never clash.
 */
export class SchemaSql {
  /** The quoted schema name, for its functions. */
  readonly schema: string;
  readonly jobs: string;
  /** The server clock as epoch ms; call it once per statement (in a CTE) so one statement sees one instant. */
  readonly now: string;
  private readonly built = new Map<(sql: SchemaSql) => string, Statement>();

  constructor(schemaName: string) {
    const s = quoteIdent(schemaName);
    this.schema = s;
    this.jobs = `${s}.jobs`;
    this.now = `${s}.now_ms()`;
  }

  statement(build: (sql: SchemaSql) => string): Statement {
    let statement = this.built.get(build);
    if (!statement) {
      const text = build(this);
      const name = `checkback_${createHash("sha1").update(text).digest("hex").slice(0, 20)}`;
      statement = { name, text };
      this.built.set(build, statement);
    }
    return statement;
  }
}

/**
 * What every operation gets: where to run single statements, the schema's statements, and how
 * to run several statements atomically.
 *
 * `transaction` is the only place an operation may spend more than one round trip: on the
 * store's pool it is BEGIN … COMMIT on one pooled connection; on a caller's client (a
 * transactional view) the caller's own transaction already makes the steps atomic, so it just
 * runs them there.
 */
export interface PgContext {
  db: Queryable;
  sql: SchemaSql;
  transaction<T>(run: (db: Queryable) => Promise<T>): Promise<T>;
  /** Group commit for adds (the store's pool only; see add-batch.ts). */
  adds?: { add(jobs: NewJob[]): Promise<AddOutcome[]> };
  /** Group commit for plain completions (the store's pool only; see completion-batch.ts). */
  completions?: { complete(queue: string, id: string, leaseToken: string, result: string | null): Promise<void> };
}

export async function run<R extends QueryResultRow>(
  db: Queryable,
  sql: SchemaSql,
  build: (sql: SchemaSql) => string,
  values: unknown[],
): Promise<R[]> {
  const { name, text } = sql.statement(build);
  const result = await db.query<R>({ name, text, values });
  return result.rows;
}

/** The context of steps already inside a transaction on `db`: further steps run there too. */
export function within(ctx: PgContext, db: Queryable): PgContext {
  return { db, sql: ctx.sql, transaction: (steps) => steps(db) };
}
