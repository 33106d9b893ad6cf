import { Checkback } from "../../packages/checkback/src/checkback.js";
import { preciseNow, type WorkerMessage, type WorkerSpec } from "./protocol.js";
import { openTargetStore } from "./targets.js";

/**
 * One worker process of the scaling run (forked by bench/scale/run.ts): opens its own store on
 * the target, says "ready", and on "go" drains the queue with a no-op handler, reporting how
 * many jobs it completed and when the last one finished, until told to stop.
 */
const spec = JSON.parse(process.argv[2] ?? "null") as WorkerSpec | null;
if (!spec || typeof process.send !== "function") {
  process.stderr.write("bench/scale/worker.ts is started by bench/scale/run.ts\n");
  process.exit(2);
}
const send = (message: WorkerMessage) => process.send!(message);

const opened = openTargetStore(spec.target);
const checkback = new Checkback({ store: opened.store });
// Connects, migrates or loads scripts before the clock starts.
await opened.store.now();
send({ type: "ready" });

let done = 0;
let lastAt = 0;
let reported = 0;
const report = () => {
  if (done === reported) return;
  reported = done;
  send({ type: "progress", done, lastAt });
};
process.on("message", async (message: "go" | "stop") => {
  if (message === "go") {
    const worker = checkback.worker(spec.queue, () => undefined, { concurrency: spec.concurrency });
    worker.on("completed", () => {
      done += 1;
      lastAt = preciseNow();
    });
    worker.on("error", (error) => process.stderr.write(`worker ${process.pid}: ${error.message}\n`));
    setInterval(report, 20).unref();
    return;
  }
  report();
  await checkback.close();
  await opened.close();
  process.exit(0);
});
