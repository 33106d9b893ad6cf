/**
 * A sweep runner process for the sweep crash test: runs the sweep's runs from the store at
 * argv[2], logging each page read and each item handled synchronously, so the test sees even
 * the work a SIGKILL cut off.
 */
import { appendFileSync } from "node:fs";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { CRASH_SWEEP, crashTable } from "./sweep-definition.js";

const [storeUrl, sweepName, logPath] = process.argv.slice(2);
const checkback = new Checkback({ store: storeUrl! });
checkback.sweep<number>(sweepName!, {
  ...CRASH_SWEEP,
  page: (cursor) => {
    appendFileSync(logPath!, `page ${cursor}\n`);
    return crashTable(cursor);
  },
  handle: async (id) => {
    appendFileSync(logPath!, `item ${id}\n`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  },
});
process.send?.("ready");
