/**
 * A check worker process for the check crash test: probes and delivers outcomes from a SQLite
 * file, logging each probe start and each outcome delivery synchronously, so the test sees
 * even the probes that a SIGKILL cut off.
 */
import { appendFileSync } from "node:fs";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { CRASH_CHECK } from "./check-definition.js";

const [dbPath, logPath] = process.argv.slice(2);
const checkback = new Checkback({ store: `sqlite:${dbPath}` });
checkback.check<{ n: number }, string>(CRASH_CHECK.name, {
  ...CRASH_CHECK.definition,
  probe: async (context) => {
    appendFileSync(logPath!, `probe ${context.key} ${context.probe}\n`);
    return CRASH_CHECK.definition.probe(context);
  },
  onDone: (outcome) => {
    appendFileSync(logPath!, `outcome ${outcome.key} ${outcome.checkId} ${JSON.stringify(outcome.result)}\n`);
  },
});
process.send?.("ready");
