import { createRequire } from "node:module";
import type BetterSqlite3 from "better-sqlite3";
import type * as IORedis from "ioredis";
import type Pg from "pg";
import { CheckbackError } from "../core/errors.js";

/**
 * Database drivers load when a store of their kind is opened, never when the library is
 * imported: an app on the memory or SQLite store does not pay for the Redis and PostgreSQL
 * drivers, and need not install them (they are optional peer dependencies). All three are
 * CommonJS packages, so a synchronous require keeps `openStore` and the store constructors
 * synchronous.
 */
const requireFromHere = createRequire(import.meta.url);
const loaded = new Map<string, unknown>();

function load<T>(name: string, store: string): T {
  if (loaded.has(name)) return loaded.get(name) as T;
  let driver: T;
  try {
    driver = requireFromHere(name) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") throw error;
    throw new CheckbackError(
      "DRIVER_MISSING",
      `the ${store} store needs the "${name}" package, which is not installed: npm install ${name}`,
      { driver: name },
    );
  }
  loaded.set(name, driver);
  return driver;
}

export const loadIoredis = (): typeof IORedis => load<typeof IORedis>("ioredis", "Redis");
export const loadPg = (): typeof Pg => load<typeof Pg>("pg", "PostgreSQL");
export const loadBetterSqlite3 = (): typeof BetterSqlite3 => load<typeof BetterSqlite3>("better-sqlite3", "SQLite");

/** Where the SQLite driver's entry is, for the checkpoint thread that requires it by path. */
export const betterSqlite3Path = (): string => requireFromHere.resolve("better-sqlite3");
