import { Checkback } from "../../packages/checkback/src/checkback.js";
import type { AddOptions } from "../../packages/checkback/src/core/options.js";
import type { Queue } from "../../packages/checkback/src/queue/queue.js";
import type { Worker } from "../../packages/checkback/src/worker/worker.js";
import { openBenchStore, type StoreContext, type StoreKind } from "../stores.js";
import {
  type BenchQueue,
  type BenchSystem,
  type FlowVariant,
  GROUPS_IN_FLOW_RUN,
  NON_BINDING_CONCURRENCY,
  NON_BINDING_RATE,
  payloadOf,
  type WorkerHooks,
} from "./system.js";

/** checkback through its public API (Checkback, Queue, Worker) on one of the bench stores. */
export async function openCheckback(
  kind: StoreKind,
  context: StoreContext,
  flow: FlowVariant = "none",
): Promise<BenchSystem> {
  const bench = await openBenchStore(kind, context);
  const checkback = new Checkback({ store: bench.store });
  return {
    label: `checkback (${kind})`,
    openQueue: async (name) => {
      const queue = new CheckbackQueue(checkback, name, flow === "groups");
      if (flow !== "none") await queue.limitWithoutBinding();
      return queue;
    },
    footprint: () => bench.footprint(),
    close: async () => {
      await checkback.close();
      await bench.cleanup();
    },
  };
}

class CheckbackQueue implements BenchQueue {
  private readonly queue: Queue<{ n: number }>;
  private worker: Worker<{ n: number }> | undefined;
  private added = 0;

  constructor(
    private readonly checkback: Checkback,
    private readonly name: string,
    /** Every job in one of GROUPS_IN_FLOW_RUN groups, taken in turn. */
    private readonly grouped: boolean,
  ) {
    this.queue = checkback.queue(name);
  }

  /** A queue limit and group limits no run here can reach: what they cost when they do not bind. */
  async limitWithoutBinding(): Promise<void> {
    await this.queue.limit({ rate: NON_BINDING_RATE, per: "1s" });
    await this.queue.limitGroups({
      concurrency: NON_BINDING_CONCURRENCY,
      rate: { rate: NON_BINDING_RATE, per: "1s" },
    });
  }

  async addBulk(delaysMs: number[]): Promise<void> {
    await this.queue.addBulk(delaysMs.map((delay) => this.nextJob(delay)));
  }

  async add(delayMs: number): Promise<void> {
    const { payload, options } = this.nextJob(delayMs);
    await this.queue.add(payload, options);
  }

  private nextJob(delay: number): { payload: { n: number }; options: AddOptions } {
    const n = this.added++;
    return {
      payload: payloadOf(n),
      options: this.grouped ? { delay, group: `g${n % GROUPS_IN_FLOW_RUN}` } : { delay },
    };
  }

  async startWorker({ concurrency, onStart, onDone }: WorkerHooks): Promise<void> {
    // runAt is on the store's clock; for memory and SQLite that is this process's Date.now(),
    // and a local Redis shares this host's clock.
    this.worker = this.checkback.worker<{ n: number }>(this.name, (job) => onStart(Date.now() - job.runAt), {
      concurrency,
    });
    this.worker.on("completed", () => onDone());
    this.worker.on("error", (error) => process.stderr.write(`checkback worker error: ${error.message}\n`));
  }

  async close(): Promise<void> {
    await this.worker?.close();
  }
}
