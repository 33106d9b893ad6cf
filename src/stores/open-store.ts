import { invalidOption } from "../core/errors.js";
import { MemoryStore } from "./memory/memory-store.js";
import type { Store } from "./store.js";

export const DEFAULT_STORE_URL = "sqlite:./checkback.db";

/** Opens a store from a URL: "memory:", "sqlite:<path>", later "redis://…", "postgres://…". */
export function openStore(url: string = process.env.CHECKBACK_STORE ?? DEFAULT_STORE_URL): Store {
  if (typeof url !== "string") throw invalidOption("a store URL must be a string");
  const scheme = url.slice(0, url.indexOf(":") + 1);
  switch (scheme) {
    case "memory:":
      return new MemoryStore();
    default:
      throw invalidOption(`unsupported store URL ${JSON.stringify(url)}`, { url });
  }
}
