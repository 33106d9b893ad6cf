import type { Checkback, Queue, Store } from "checkback";
import { CheckbackError } from "checkback";
import { validateQueueName } from "checkback/internal";
import type { ServerConfig } from "./config.js";
import type { ServerMetrics } from "./metrics.js";
import type { PushDispatcher } from "./push/dispatcher.js";
import { isReservedQueue, refuseReservedQueue } from "./reserved.js";
import type { Settings } from "./settings.js";

/**
 * What route modules share. Queue names are checked here, once, for every route:
 *   - a malformed name is 400 INVALID_OPTION;
 *   - reserved names ("_checkback…", "check.<name>") are 404 UNKNOWN_QUEUE (see reserved.ts);
 *   - with a configured `queues` list, any other name is 404 UNKNOWN_QUEUE;
 *   - otherwise any valid name is a queue: it comes into being with its first job, and reads
 *     of a queue with no jobs give zero counts and empty lists (as in the library).
 */
export class ServerContext {
  private readonly allowed: Set<string> | null;
  private readonly closingController = new AbortController();

  constructor(
    readonly checkback: Checkback,
    readonly config: ServerConfig,
    readonly metrics: ServerMetrics,
    readonly settings: Settings,
    readonly push: PushDispatcher,
  ) {
    this.allowed = config.queues ? new Set(config.queues) : null;
  }

  get store(): Store {
    return this.checkback.store;
  }

  /** Aborted when the server begins to close: long-polls return at once. */
  get closing(): AbortSignal {
    return this.closingController.signal;
  }

  beginClose(): void {
    this.closingController.abort();
  }

  queueName(name: string): string {
    validateQueueName(name);
    refuseReservedQueue(name);
    if (this.allowed && !this.allowed.has(name)) {
      throw new CheckbackError("UNKNOWN_QUEUE", `no queue ${JSON.stringify(name)} on this server`, { queue: name });
    }
    return name;
  }

  queue<T = unknown>(name: string): Queue<T> {
    return this.checkback.queue<T>(this.queueName(name));
  }

  /** Queues to list: those holding jobs, plus configured ones that are still empty; never a reserved one. */
  async queueNames(): Promise<string[]> {
    const names = new Set(await this.store.queues());
    if (this.allowed) {
      for (const name of names) if (!this.allowed.has(name)) names.delete(name);
      for (const name of this.allowed) names.add(name);
    }
    for (const name of names) if (isReservedQueue(name)) names.delete(name);
    return [...names].sort();
  }
}
