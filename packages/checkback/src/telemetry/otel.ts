import { createRequire } from "node:module";
import type * as OtelApi from "@opentelemetry/api";

export type Otel = typeof OtelApi;

/**
 * @opentelemetry/api is an optional peer, loaded on first use like the store drivers
 * (stores/drivers.ts), never when the library is imported: an app without it gets no tracing,
 * no error and no cost per job (every traced path is behind one null check). The package keeps
 * its registered providers on a global, so this CommonJS copy sees what the app's ESM import
 * registered.
 */
const requireFromHere = createRequire(import.meta.url);
let loaded: Otel | null | undefined;

export function loadOtel(): Otel | null {
  if (loaded !== undefined) return loaded;
  try {
    loaded = requireFromHere("@opentelemetry/api") as Otel;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") throw error;
    loaded = null;
  }
  return loaded;
}

/** Tests: behave as if the package were absent (null) or load it again (undefined). */
export function setOtelForTesting(value: Otel | null | undefined): void {
  loaded = value;
}
