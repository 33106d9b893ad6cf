import { randomUUID } from "node:crypto";
import type { Store } from "checkback";
import { CheckbackError, StoreUnavailableError } from "checkback";
import { SETTINGS_QUEUE, Settings } from "../settings.js";
import type { StoreHealth } from "./guard.js";

/**
 * Probes that show whether the store can be used, through the same calls real work makes. They
 * keep to the reserved settings queue under keys of their own ("probe:…"), which no setting
 * reader looks at, and leave nothing behind.
 */
const PROBE_KIND = "probe";
/** Orchestrators give a readiness probe about a second or two before counting it failed. */
const READINESS_DEADLINE_MS = 2_000;

/** A write, a read of what was written, and its removal. Throws if any step fails. */
export async function probeWrite(store: Store): Promise<void> {
  const settings = new Settings(store);
  const name = randomUUID();
  const written = { at: Date.now() };
  await settings.put(PROBE_KIND, name, written);
  const read = await settings.get<typeof written>(PROBE_KIND, name);
  if (read?.at !== written.at) {
    throw new StoreUnavailableError("the store did not return what was just written to it", { store: store.kind });
  }
  await settings.delete(PROBE_KIND, name);
}

/**
 * The start-up check: the server refuses to start on a store it cannot write, rather than
 * listening and failing every request. The message names the store URL, password hidden.
 */
export async function checkStoreAtStart(store: Store, url: string): Promise<void> {
  try {
    await probeWrite(store);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new StoreUnavailableError(`cannot use the store ${redactUrl(url)}: ${reason}`, {
      store: store.kind,
      ...(error instanceof CheckbackError && { cause: error.code }),
    });
  }
}

/**
 * Readiness: a read reaches the store, and writes are not known to fail. When the last write
 * failed for want of a store, a write probe decides (and its success clears the failure).
 * Resolves to null when ready, else to the reason.
 */
export async function storeUnreadiness(
  store: Store,
  health?: StoreHealth,
  deadlineMs = READINESS_DEADLINE_MS,
): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const probe = (async () => {
    await store.getByKey(SETTINGS_QUEUE, `${PROBE_KIND}:readiness`);
    if (health?.failingWrites) await probeWrite(store);
    return null;
  })();
  const expired = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`the ${store.kind} store did not answer within ${deadlineMs} ms`), deadlineMs);
  });
  try {
    return await Promise.race([probe, expired]);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    clearTimeout(timer);
    probe.catch(() => {});
  }
}

/** "redis://user:secret@host" → "redis://user:***@host"; URLs without a password unchanged. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z+]+:\/\/[^:/@]*:)[^@/]*@/i, "$1***@");
}
