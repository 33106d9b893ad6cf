/**
 * A worker process for the crash test: runs jobs from a SQLite file and records every handler
 * finish in a log file (synchronously, before the job is marked complete), so the test can count
 * deliveries even for jobs whose completion the crash cut off.
 */
import { appendFileSync } from "node:fs";
import { Checkback } from "../../src/checkback.js";

const [dbPath, logPath, leaseMs] = process.argv.slice(2);
const cb = new Checkback({ store: `sqlite:${dbPath}` });
cb.worker<{ n: number }>(
  "crash",
  async (job) => {
    await new Promise((resolve) => setTimeout(resolve, 20 + (job.payload.n % 7) * 10));
    appendFileSync(logPath!, `${job.id}\n`);
  },
  { concurrency: 20, lease: Number(leaseMs), retention: false },
);
process.send?.("ready");
