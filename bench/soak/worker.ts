import { Checkback } from "../../packages/checkback/src/checkback.js";

/**
 * A soak worker: a library Worker in a process of its own, which the soak SIGKILLs at random.
 * For each job it starts it tells the parent the job's mark and how late it started; the parent
 * keeps the ledger. Usage (forked): worker.ts <store-url> <queue>
 */
const [storeUrl, queue] = process.argv.slice(2) as [string, string];
const checkback = new Checkback({ store: storeUrl });
checkback.worker<{ mark: string }>(
  queue,
  async (job) => {
    process.send?.({ mark: job.payload.mark, latenessMs: Date.now() - job.runAt });
  },
  // A short lease: the jobs of a killed worker come back within seconds.
  { concurrency: 20, lease: "5s" },
);
// An unhandled store error while the store restarts must not end the worker: it retries.
process.on("unhandledRejection", () => {});
process.on("disconnect", () => process.exit(0));
