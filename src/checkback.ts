import { invalidOption } from "./core/errors.js";
import { type JobDefaults, rejectUnknown, validateQueueName } from "./core/options.js";
import { DEFAULT_MAX_PAYLOAD_BYTES } from "./core/payload.js";
import { Queue } from "./queue.js";
import { openStore } from "./stores/open-store.js";
import type { Store } from "./stores/store.js";
import { type Handler, Worker, type WorkerOptions } from "./worker.js";

export interface CheckbackOptions {
  /**
   * A Store, or a store URL: "sqlite:./checkback.db" (the default), "memory:",
   * "redis://127.0.0.1:6379", "postgres://…".
   */
  store?: Store | string;
  /** Largest serialized payload accepted, in bytes (default 256 KiB). */
  maxPayloadBytes?: number;
  /** Defaults for every job added through this instance (attempts, backoff). */
  defaults?: JobDefaults;
}

const OPTION_NAMES = new Set(["store", "maxPayloadBytes", "defaults"]);

/**
 * One checkback instance: a store plus the queues and workers opened on it. Closing it
 * closes its workers (gracefully) and then the store.
 */
export class Checkback {
  readonly store: Store;
  private readonly maxPayloadBytes: number;
  private readonly defaults: JobDefaults;
  private readonly workers = new Set<{ close(): Promise<void> }>();

  constructor(options: CheckbackOptions = {}) {
    rejectUnknown(options, OPTION_NAMES, "checkback");
    const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    if (!Number.isInteger(maxPayloadBytes) || maxPayloadBytes < 2) {
      throw invalidOption("maxPayloadBytes must be an integer ≥ 2", { maxPayloadBytes });
    }
    this.maxPayloadBytes = maxPayloadBytes;
    this.defaults = options.defaults ?? {};
    this.store = typeof options.store === "object" ? options.store : openStore(options.store);
  }

  queue<T = unknown>(name: string, defaults?: JobDefaults): Queue<T> {
    return new Queue<T>(validateQueueName(name), this.store, {
      maxPayloadBytes: this.maxPayloadBytes,
      defaults: { ...this.defaults, ...defaults },
    });
  }

  worker<T = unknown>(name: string, handler: Handler<T>, options?: WorkerOptions): Worker<T> {
    const worker = new Worker<T>(name, this.store, handler, options);
    this.workers.add(worker);
    worker.once("closed", () => this.workers.delete(worker));
    return worker;
  }

  async close(): Promise<void> {
    await Promise.all([...this.workers].map((worker) => worker.close()));
    await this.store.close();
  }
}

export function createCheckback(options?: CheckbackOptions): Checkback {
  return new Checkback(options);
}
