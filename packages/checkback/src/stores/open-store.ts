import { invalidOption } from "../core/errors.js";
import { MemoryStore } from "./memory/memory-store.js";
import { openPostgresStore } from "./postgres/url.js";
import { openRedisStore } from "./redis/url.js";
import { SqliteStore } from "./sqlite/sqlite-store.js";
import type { Store } from "./store.js";

export const DEFAULT_STORE_URL = "sqlite:./checkback.db";

/** Opens a store from a URL: "memory:", "sqlite:<path>", "redis://…", "postgres://…[?schema=name]". */
export function openStore(url: string = process.env.CHECKBACK_STORE ?? DEFAULT_STORE_URL): Store {
  if (typeof url !== "string") throw invalidOption("a store URL must be a string");
  const scheme = url.slice(0, url.indexOf(":") + 1);
  switch (scheme) {
    case "memory:":
      return new MemoryStore();
    case "sqlite:":
      return openSqlite(url);
    case "redis:":
    case "rediss:":
    case "redis+cluster:":
    case "rediss+cluster:":
      return openRedisStore(url);
    case "postgres:":
    case "postgresql:":
      return openPostgresStore(url);
    default:
      throw invalidOption(`unsupported store URL ${JSON.stringify(url)}`, { url });
  }
}

/**
 * "sqlite:<path>" (relative to the working directory), "sqlite:///absolute/path", and an
 * optional "?synchronous=full" for an fsync on every commit.
 */
function openSqlite(url: string): SqliteStore {
  let rest = url.slice("sqlite:".length);
  let synchronous: "normal" | "full" | undefined;
  const query = rest.lastIndexOf("?");
  if (query >= 0) {
    const params = new URLSearchParams(rest.slice(query + 1));
    rest = rest.slice(0, query);
    for (const [name, value] of params) {
      if (name !== "synchronous" || (value !== "normal" && value !== "full")) {
        throw invalidOption(`unsupported sqlite URL parameter ${name}=${value} (known: synchronous=normal|full)`, {
          url,
        });
      }
      synchronous = value;
    }
  }
  const path = rest.startsWith("//") ? rest.slice(2) : rest;
  return new SqliteStore(synchronous ? { path, synchronous } : { path });
}
