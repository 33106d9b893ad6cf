/**
 * How deeply a request body may nest. Parsing copes with any depth, but later steps that walk a
 * value recursively (serializing a payload for the store and for the reply, reading a duration
 * list) run out of stack a few thousand levels down, at a depth that depends on where they run.
 * A fixed limit, far beyond any real document, refuses such bodies up front with a 400.
 */
export const MAX_JSON_DEPTH = 512;

/** True when `value` nests arrays/objects deeper than `limit`. Iterative: it cannot overflow itself. */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== "object") continue;
    if (depth + 1 > limit) return true;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return false;
}
