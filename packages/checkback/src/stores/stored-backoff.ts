import type { BackoffPolicy } from "../core/backoff.js";

/**
 * Every store keeps a job's back-off policy as JSON text (a column, a script argument). A
 * queue's jobs nearly all share a handful of policies, so both directions are remembered:
 * the text of a policy object (a batch usually shares the queue's default object), and the
 * parsed policy of a text, so that most reads and claims parse nothing. Parsed policies are
 * frozen, since every record that uses one shares it.
 */
const texts = new WeakMap<BackoffPolicy, string>();
const parsed = new Map<string, BackoffPolicy>();
const PARSED_LIMIT = 1_000;

export function storedBackoffText(policy: BackoffPolicy): string {
  let text = texts.get(policy);
  if (text === undefined) {
    text = JSON.stringify(policy);
    texts.set(policy, text);
  }
  return text;
}

export function parseStoredBackoff(text: string): BackoffPolicy {
  let policy = parsed.get(text);
  if (!policy) {
    policy = deepFreeze(JSON.parse(text) as BackoffPolicy);
    if (parsed.size >= PARSED_LIMIT) parsed.clear();
    parsed.set(text, policy);
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
