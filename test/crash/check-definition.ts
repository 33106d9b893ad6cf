import type { CheckDefinition } from "../../packages/checkback/src/checks/types.js";

/** The check both the crash test and its worker processes define: done on the fifth probe. */
export const CRASH_CHECK = {
  name: "crash-check",
  definition: {
    schedule: { every: "40ms", times: 100 },
    probe: async ({ probe, done, pending }) => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      return probe >= 5 ? done(`probe-${probe}`) : pending();
    },
    worker: { concurrency: 20, lease: 1_000, retention: false },
  } satisfies CheckDefinition<{ n: number }, string>,
};
