/**
 * A worker process for the fault tests: runs a queue from a store URL and appends each handler
 * run's job id to a log file. With "listener" it listens to `error` (and logs those too); with
 * "silent" it attaches nothing, as the README's quickstart does, so an unheard store error that
 * the worker threw would end the process.
 */
import { appendFileSync } from "node:fs";
import { Checkback } from "../../packages/checkback/src/checkback.js";

const [storeUrl, queue, logPath, mode] = process.argv.slice(2);
const cb = new Checkback({ store: storeUrl! });
const worker = cb.worker(
  queue!,
  async (job) => {
    appendFileSync(logPath!, `${job.id}\n`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  },
  // A short lease, so an outcome lost to the outage is redelivered within the test.
  { concurrency: 4, lease: "2s", retention: false },
);
if (mode === "listener") worker.on("error", (error) => appendFileSync(`${logPath}.errors`, `${error.message}\n`));
process.send?.("ready");
