import type { Store } from "checkback";
import { StoreUnavailableError } from "checkback";
import { classifyStoreError } from "./failure.js";

/**
 * The server's backstop against a store that hangs or fails by connection: every store call
 * made through the server (HTTP routes, push delivery, checks) gets a deadline, and a
 * connection failure becomes a typed StoreUnavailableError (503) instead of an untyped 500.
 *
 * A call that misses its deadline is answered as unavailable, but it may still complete in the
 * store later: an add answered 503 may exist. Clients retry with an idempotency key.
 */
export const DEFAULT_STORE_DEADLINE_MS = 5_000;

/** Store calls that change data; the others only read. */
const WRITES = new Set<string>([
  "add",
  "cancel",
  "reschedule",
  "claimDue",
  "extendLease",
  "complete",
  "settle",
  "fail",
  "release",
  "redrive",
  "purge",
  "trim",
]);
const READS = new Set<string>(["now", "get", "getByKey", "list", "counts", "queues"]);

/**
 * What the guard has seen: whether the last write failed for want of a store (a read-only
 * SQLite file, a Redis that refuses writes). Reads alone cannot tell that, so readiness asks.
 */
export class StoreHealth {
  private writeFailure: string | null = null;

  /** Why writes fail, or null when the last write went through (or none was made yet). */
  get failingWrites(): string | null {
    return this.writeFailure;
  }

  recordWrite(failure: string | null): void {
    this.writeFailure = failure;
  }
}

export interface GuardedStore {
  store: Store;
  health: StoreHealth;
}

/** Wraps `store` (a Proxy: its kind and any extra members stay visible) with the deadline and classification. */
export function guardStore(store: Store, deadlineMs: number = DEFAULT_STORE_DEADLINE_MS): GuardedStore {
  const health = new StoreHealth();
  const deadlines = new Deadlines(deadlineMs);
  const guard = (name: string, method: (...args: unknown[]) => unknown) => {
    const write = WRITES.has(name);
    if (!write && !READS.has(name)) return method.bind(store);
    return async (...args: unknown[]) => {
      try {
        const result = await deadlines.race(Promise.resolve(method.apply(store, args)), store.kind);
        if (write) health.recordWrite(null);
        return result;
      } catch (error) {
        const classified = classifyStoreError(error, store.kind);
        if (write && classified instanceof StoreUnavailableError) health.recordWrite(classified.message);
        throw classified;
      }
    };
  };
  // One wrapper per method, made once: the HTTP paths call the store several times per request.
  // A method replaced on the store (tests do) gets a wrapper of its own.
  const wrappers = new Map<string, { method: unknown; wrapper: unknown }>();
  const guarded = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof property !== "string" || typeof value !== "function") return value;
      const known = wrappers.get(property);
      if (known && known.method === value) return known.wrapper;
      const wrapper = guard(property, value as (...args: unknown[]) => unknown);
      wrappers.set(property, { method: value, wrapper });
      return wrapper;
    },
  });
  return { store: guarded, health };
}

/**
 * The deadlines of the store calls in flight. Every call gets the same allowance, so calls
 * expire in the order they started: they wait in a first-in first-out list, and one timer,
 * armed for the oldest call still running, serves them all (a timer per call was a visible
 * share of a batch's cost). Settled calls leave the head of the list as they settle.
 */
class Deadlines {
  private readonly waiting: InFlight[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ms: number) {}

  /** `call`'s outcome, or a StoreUnavailableError once the deadline passes first. */
  race<T>(call: Promise<T>, kind: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: InFlight = { expiresAt: performance.now() + this.ms, kind, reject, settled: false };
      this.waiting.push(entry);
      this.timer ??= this.arm(this.ms);
      // A call that loses the race may still fail later: nobody waits for it any more.
      call.then(
        (value) => {
          if (this.settle(entry)) resolve(value);
        },
        (error: unknown) => {
          if (this.settle(entry)) reject(error);
        },
      );
    });
  }

  /** Marks `entry` settled; false if its deadline had already answered it. */
  private settle(entry: InFlight): boolean {
    if (entry.settled) return false;
    entry.settled = true;
    this.dropSettledHead();
    return true;
  }

  private expire(): void {
    this.timer = undefined;
    const now = performance.now();
    for (; this.head < this.waiting.length; this.head++) {
      const entry = this.waiting[this.head]!;
      if (entry.settled) continue;
      if (entry.expiresAt > now) break;
      entry.settled = true;
      entry.reject(
        new StoreUnavailableError(`the ${entry.kind} store did not answer within ${this.ms} ms`, { store: entry.kind }),
      );
    }
    this.dropSettledHead();
    const oldest = this.waiting[this.head];
    if (oldest) this.timer = this.arm(oldest.expiresAt - now);
  }

  /**
   * The timer is not cleared when the list empties (it would then be one per call again when
   * calls come one at a time); it fires, finds nothing and is not re-armed. Unref'd, so it never
   * holds a process open by itself.
   */
  private arm(ms: number): NodeJS.Timeout {
    return setTimeout(() => this.expire(), Math.max(0, ms)).unref();
  }

  private dropSettledHead(): void {
    while (this.head < this.waiting.length && this.waiting[this.head]!.settled) this.head++;
    if (this.head === this.waiting.length) {
      this.waiting.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.waiting.length) {
      this.waiting.splice(0, this.head);
      this.head = 0;
    }
  }
}

interface InFlight {
  expiresAt: number;
  kind: string;
  reject: (error: unknown) => void;
  settled: boolean;
}
