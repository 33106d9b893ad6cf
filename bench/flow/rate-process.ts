import { Checkback } from "../../packages/checkback/src/checkback.js";
import { BULLMQ_PREFIX } from "../runners/bullmq.js";
import { openTargetStore } from "../scale/targets.js";
import type { RateProcessMessage, RateProcessSpec } from "./protocol.js";

/**
 * One worker process of the rate-limit run (forked by bench/flow/rate-limit.ts): opens its own
 * connection to the queue, says "ready", and on "go" starts `workers` workers with a no-op
 * handler that notes each job's start instant; on "stop" it closes them and sends every instant.
 */
const spec = JSON.parse(process.argv[2] ?? "null") as RateProcessSpec | null;
if (!spec || typeof process.send !== "function") {
  process.stderr.write("bench/flow/rate-process.ts is started by bench/flow/rate-limit.ts\n");
  process.exit(2);
}
const send = (message: RateProcessMessage) =>
  new Promise<void>((resolve, reject) =>
    process.send!(message, (error: Error | null) => (error ? reject(error) : resolve())),
  );

const startedAt: number[] = [];
const handlerAt: number[] = [];

interface Running {
  start(): void;
  stop(): Promise<void>;
}

async function openCheckback(spec: RateProcessSpec): Promise<Running> {
  const opened = openTargetStore(spec.target!);
  const checkback = new Checkback({ store: opened.store });
  // Connects, migrates or loads scripts before the clock starts.
  await opened.store.now();
  return {
    start() {
      for (let i = 0; i < spec.workers; i++) {
        const worker = checkback.worker(
          spec.queue,
          (job) => {
            // A claimed record's updatedAt is the claim's instant: when the store started it.
            startedAt.push(job.updatedAt);
            handlerAt.push(job.startedAt);
          },
          { concurrency: spec.concurrency, retention: false },
        );
        worker.on("error", (error) => process.stderr.write(`worker ${process.pid}: ${error.message}\n`));
      }
    },
    async stop() {
      await checkback.close();
      await opened.close();
    },
  };
}

async function openBullmq(spec: RateProcessSpec): Promise<Running> {
  const { Worker } = await import("bullmq");
  const connection = { url: spec.redisUrl };
  const workers = Array.from(
    { length: spec.workers },
    () =>
      new Worker(
        spec.queue,
        async (job) => {
          // processedOn: stamped when the job moved to active (the worker's clock, this host).
          startedAt.push(job.processedOn ?? Date.now());
          handlerAt.push(Date.now());
        },
        {
          connection,
          prefix: BULLMQ_PREFIX,
          concurrency: spec.concurrency,
          limiter: { max: spec.limit.rate, duration: spec.limit.perMs },
          autorun: false,
          removeOnComplete: { count: 1000 },
        },
      ),
  );
  for (const worker of workers) {
    worker.on("error", (error) => process.stderr.write(`BullMQ worker ${process.pid}: ${error.message}\n`));
    await worker.waitUntilReady();
  }
  return {
    start() {
      for (const worker of workers) void worker.run();
    },
    async stop() {
      await Promise.all(workers.map((worker) => worker.close()));
    },
  };
}

const running = spec.system === "bullmq" ? await openBullmq(spec) : await openCheckback(spec);
await send({ type: "ready" });

let progress: NodeJS.Timeout | undefined;
process.on("message", async (message: "go" | "stop") => {
  if (message === "go") {
    running.start();
    progress = setInterval(() => void send({ type: "progress", starts: startedAt.length }), 250);
    return;
  }
  clearInterval(progress);
  await running.stop();
  await send({ type: "starts", startedAt, handlerAt });
  process.exit(0);
});
