import { withRedactedUrls } from "./redact.js";
import type { Settings } from "./settings.js";

/**
 * Definitions the server keeps in its settings and runs itself (HTTP checks, HTTP sweeps):
 * stored only once their registry accepts them, and shown without their secret and with the
 * credentials in their URLs redacted.
 */
interface Registry<D> {
  validate(name: string, definition: D): void;
  define(name: string, definition: D): Promise<void>;
}

export async function saveDefinition<D extends { secret: string }, K extends keyof D>(
  settings: Settings,
  setting: string,
  registry: Registry<D>,
  name: string,
  definition: D,
  urlFields: readonly K[],
): Promise<{ name: string } & D> {
  // Refuse a bad name or definition before anything is stored.
  registry.validate(name, definition);
  await settings.put(setting, name, definition);
  await registry.define(name, definition);
  return { name, ...withRedactedUrls(definition, urlFields) };
}

/** The stored definition without its secret, or null when none is defined under `name`. */
export async function readDefinition<D extends { secret: string }, K extends keyof Omit<D, "secret">>(
  settings: Settings,
  setting: string,
  name: string,
  urlFields: readonly K[],
): Promise<({ name: string } & Omit<D, "secret">) | null> {
  const definition = await settings.get<D>(setting, name);
  if (!definition) return null;
  const { secret: _hidden, ...shown } = definition;
  return { name, ...withRedactedUrls(shown as Omit<D, "secret">, urlFields) };
}
