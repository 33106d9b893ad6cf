import type { Store } from "checkback";
import { DEFAULT_BACKOFF, MAX_DURATION_MS } from "checkback/internal";
import { SERVER_QUEUE_PREFIX } from "./reserved.js";

/**
 * Durable server settings (push targets, check definitions) kept in the store itself, so they
 * live wherever the jobs live — SQLite file, Redis, PostgreSQL — with no schema of their own.
 * Each setting is a job in a reserved queue, keyed "<kind>:<name>", due a century from now so
 * no worker ever claims it; the key's uniqueness among unfinished jobs makes a put an upsert.
 * The queue is reserved: no route that names a queue reaches it (see reserved.ts).
 */
export const SETTINGS_QUEUE = `${SERVER_QUEUE_PREFIX}.settings`;

export class Settings {
  constructor(private readonly store: Store) {}

  async get<T>(kind: string, name: string): Promise<T | null> {
    const job = await this.store.getByKey(SETTINGS_QUEUE, keyOf(kind, name));
    return job && job.state === "scheduled" ? (JSON.parse(job.payload) as T) : null;
  }

  async put<T>(kind: string, name: string, value: T): Promise<void> {
    await this.store.add([
      {
        queue: SETTINGS_QUEUE,
        key: keyOf(kind, name),
        payload: JSON.stringify(value),
        when: { delayMs: MAX_DURATION_MS },
        maxAttempts: 1,
        backoff: DEFAULT_BACKOFF,
        onDuplicate: "replace",
      },
    ]);
  }

  /** True if the setting existed. */
  async delete(kind: string, name: string): Promise<boolean> {
    const { job, changed } = await this.store.cancel(SETTINGS_QUEUE, { key: keyOf(kind, name) });
    // Cancelled settings carry no history worth keeping.
    if (job && changed) await this.store.purge(SETTINGS_QUEUE, "cancelled", { ids: [job.id] });
    return changed;
  }

  async list<T>(kind: string): Promise<{ name: string; value: T }[]> {
    const prefix = `${kind}:`;
    const found: { name: string; value: T }[] = [];
    let cursor: string | null = null;
    do {
      const page = await this.store.list(SETTINGS_QUEUE, "scheduled", { limit: 500, cursor });
      for (const job of page.jobs) {
        if (job.key?.startsWith(prefix))
          found.push({ name: job.key.slice(prefix.length), value: JSON.parse(job.payload) as T });
      }
      cursor = page.next;
    } while (cursor);
    return found;
  }
}

function keyOf(kind: string, name: string): string {
  return `${kind}:${name}`;
}
