import type { SweepPage } from "../../packages/checkback/src/scans/sweep-types.js";

export const CRASH_RECORDS = 3_000;
export const CRASH_PAGE_SIZE = 50;

/** The sweep's options, the same in the test and in its runner processes. */
export const CRASH_SWEEP = { concurrency: 10, lease: "1s", pageBackoff: "10ms" } as const;

/** The user's table: ids 0…CRASH_RECORDS−1, the cursor is the next id. */
export function crashTable(cursor: string | null): SweepPage<number> {
  const from = cursor === null ? 0 : Number(cursor);
  const to = Math.min(CRASH_RECORDS, from + CRASH_PAGE_SIZE);
  return { items: Array.from({ length: to - from }, (_, i) => from + i), next: to < CRASH_RECORDS ? String(to) : null };
}
