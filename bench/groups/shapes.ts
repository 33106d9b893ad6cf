import { DEFAULT_BACKOFF } from "../../packages/checkback/src/core/backoff.js";
import type { NewJob, Store } from "../../packages/checkback/src/stores/store.js";

/**
 * The shapes of grouped work the per-store group benchmarks (bench/groups-*.ts) compare, so
 * their figures line up row for row: the same jobs, groups and limits on every store.
 */
export const GROUPS_QUEUE = "groups";

/** A due job of the benchmark's queue, in `group` (null: none). */
export function groupedJob(group: string | null): NewJob {
  return {
    queue: GROUPS_QUEUE,
    key: null,
    payload: "{}",
    when: { delayMs: 0 },
    maxAttempts: 3,
    backoff: DEFAULT_BACKOFF,
    onDuplicate: "keep",
    group,
  };
}

export interface GroupShape {
  name: string;
  /** The group of the n-th job. */
  group: (n: number) => string | null;
  /** Limits set on the store before any job is added. */
  setup?: (store: Store) => Promise<void>;
}

export const GROUP_SHAPES: readonly GroupShape[] = [
  { name: "no group", group: () => null },
  { name: "one group", group: () => "g" },
  { name: "1,000 groups", group: (n) => `g${n % 1000}` },
  { name: "one group per job", group: (n) => `g${n}` },
  {
    name: "1,000 groups, concurrency 2 + rate",
    group: (n) => `g${n % 1000}`,
    // Limits that never bind: what their bookkeeping costs, not what they hold back.
    setup: (store) =>
      store.setGroupLimits(GROUPS_QUEUE, null, { concurrency: 2, limit: { rate: 1_000_000, perMs: 1000 } }),
  },
];
