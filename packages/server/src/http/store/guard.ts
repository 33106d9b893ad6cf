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
  const guarded = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof property !== "string" || typeof value !== "function") return value;
      const write = WRITES.has(property);
      if (!write && !READS.has(property)) return value.bind(target);
      return async (...args: unknown[]) => {
        try {
          const result = await withDeadline(value.apply(target, args) as Promise<unknown>, deadlineMs, target.kind);
          if (write) health.recordWrite(null);
          return result;
        } catch (error) {
          const classified = classifyStoreError(error, target.kind);
          if (write && classified instanceof StoreUnavailableError) health.recordWrite(classified.message);
          throw classified;
        }
      };
    },
  });
  return { store: guarded, health };
}

function withDeadline<T>(call: Promise<T>, ms: number, kind: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new StoreUnavailableError(`the ${kind} store did not answer within ${ms} ms`, { store: kind })),
      ms,
    );
  });
  // A call that loses the race may still fail later: nobody waits for it any more.
  call.catch(() => {});
  return Promise.race([call, expired]).finally(() => clearTimeout(timer));
}
