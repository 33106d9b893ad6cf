import { Worker } from "node:worker_threads";
import { LatenessRecorder, type LatenessSummary } from "./lateness.js";

/**
 * The machine's timer noise measured from a worker thread of this very process: its own event
 * loop on its own OS thread, so it sees what other processes take from the CPUs but not how
 * busy the benchmark's main thread is. Read lateness figures against it: no engine on this
 * machine can fire more punctually.
 */
const THREAD_SOURCE = `
const { parentPort } = require("node:worker_threads");
const samples = [];
let timer;
function next() {
  const delayMs = 1 + Math.floor(Math.random() * 20);
  const dueAt = Date.now() + delayMs;
  timer = setTimeout(() => { samples.push(Date.now() - dueAt); next(); }, delayMs);
}
parentPort.once("message", () => { clearTimeout(timer); parentPort.postMessage(samples); });
next();
`;

export class ThreadNoise {
  private readonly thread = new Worker(THREAD_SOURCE, { eval: true });

  async stop(): Promise<LatenessSummary> {
    const samples = new Promise<number[]>((resolve) => this.thread.once("message", resolve));
    this.thread.postMessage("stop");
    const recorder = new LatenessRecorder();
    for (const sample of await samples) recorder.record(sample);
    await this.thread.terminate();
    return recorder.summary();
  }
}
