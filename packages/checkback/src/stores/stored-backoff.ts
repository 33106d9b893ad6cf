import type { BackoffPolicy } from "../core/backoff.js";

/**
 * SQL stores keep a job's back-off policy as JSON text. A queue's jobs nearly all share a
 * handful of policies, so parsed ones are kept (frozen, since records share them) and most
 * claims parse nothing.
 */
const cache = new Map<string, BackoffPolicy>();
const CACHE_LIMIT = 256;

export function parseStoredBackoff(text: string): BackoffPolicy {
  let policy = cache.get(text);
  if (!policy) {
    policy = deepFreeze(JSON.parse(text) as BackoffPolicy);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(text, policy);
  }
  return policy;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
