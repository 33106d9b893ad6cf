import { type Job, Queue, Worker } from "bullmq";
import { redisStats } from "../lib/redis-info.js";
import {
  type BenchQueue,
  type BenchSystem,
  type FlowVariant,
  NON_BINDING_RATE,
  payloadOf,
  type WorkerHooks,
} from "./system.js";

/**
 * All BullMQ keys live under this prefix, and every queue is obliterated when its scenario
 * ends, so the benchmark never touches anyone else's keys on a shared Redis.
 */
export const BULLMQ_PREFIX = "checkback-bench";

/**
 * BullMQ with settings that match checkback's defaults: delayed jobs via `delay`, completed
 * jobs trimmed to the last 1,000 (checkback's default retention), one Worker per queue. With
 * `flow` other than none, each Worker gets BullMQ's limiter (per queue: its open-source
 * edition has no groups) at a rate no run reaches.
 */
export async function openBullmq(redisUrl: string, flow: FlowVariant = "none"): Promise<BenchSystem> {
  const connection = { url: redisUrl };
  const limiter = flow === "none" ? undefined : { max: NON_BINDING_RATE, duration: 1_000 };
  return {
    label: "BullMQ",
    openQueue: async (name) => new BullmqQueue(name, connection, limiter),
    footprint: async () => {
      const stats = await redisStats(redisUrl);
      return { redisUsedMemoryBytes: stats.usedMemoryBytes, redisCpuSeconds: stats.cpuSeconds };
    },
    close: async () => {},
  };
}

type Data = { n: number };

class BullmqQueue implements BenchQueue {
  private readonly queue: Queue<Data>;
  private worker: Worker<Data> | undefined;
  private added = 0;

  constructor(
    private readonly name: string,
    private readonly connection: { url: string },
    private readonly limiter: { max: number; duration: number } | undefined,
  ) {
    this.queue = new Queue<Data>(name, {
      connection,
      prefix: BULLMQ_PREFIX,
      defaultJobOptions: { removeOnComplete: 1000, removeOnFail: 1000 },
    });
  }

  async addBulk(delaysMs: number[]): Promise<void> {
    await this.queue.addBulk(
      delaysMs.map((delay) => ({ name: "job", data: payloadOf(this.added++), opts: { delay } })),
    );
  }

  async add(delayMs: number): Promise<void> {
    await this.queue.add("job", payloadOf(this.added++), { delay: delayMs });
  }

  async startWorker({ concurrency, onStart, onDone }: WorkerHooks): Promise<void> {
    // BullMQ stamps a job with the producer's Date.now() and keeps the requested delay, so
    // its due instant is timestamp + delay (same host, same clock as this handler).
    const handler = async (job: Job<Data>) => onStart(Date.now() - (job.timestamp + (job.opts.delay ?? 0)));
    this.worker = new Worker<Data>(this.name, handler, {
      connection: this.connection,
      prefix: BULLMQ_PREFIX,
      concurrency,
      ...(this.limiter ? { limiter: this.limiter } : {}),
    });
    this.worker.on("completed", () => onDone());
    this.worker.on("error", (error) => process.stderr.write(`BullMQ worker error: ${error.message}\n`));
    await this.worker.waitUntilReady();
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.obliterate({ force: true, count: 10_000 });
    await this.queue.close();
  }
}
