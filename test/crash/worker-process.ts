/**
 * A worker process for the crash test: runs jobs from a SQLite file and records every delivery
 * (handler start) in a log file, synchronously, so the test can count deliveries even for jobs
 * that the crash cut off mid-handler.
 */
import { appendFileSync } from "node:fs";
import { Checkback } from "../../packages/checkback/src/checkback.js";

const [dbPath, logPath, leaseMs] = process.argv.slice(2);
const cb = new Checkback({ store: `sqlite:${dbPath}` });
cb.worker<{ n: number }>(
  "crash",
  async (job) => {
    appendFileSync(logPath!, `${job.id}\n`);
    await new Promise((resolve) => setTimeout(resolve, 20 + (job.payload.n % 7) * 10));
  },
  { concurrency: 20, lease: Number(leaseMs), retention: false },
);
process.send?.("ready");
