import { Redis } from "ioredis";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { RedisStore } from "../../packages/checkback/src/stores/redis/redis-store.js";
import { RedisServerProcess } from "../../test/support/redis-server-process.js";
import { randomDelay } from "../lib/load.js";
import { note } from "../lib/progress.js";
import { type Segment, SegmentRecorder } from "./segments.js";

const DAY_MS = 86_400_000;

export interface RedisBacklogResult {
  jobs: number;
  bytesPerJob: number;
  addSegments: Segment[];
  /** Claim + complete of as many due-now jobs, beside the far-future backlog. */
  drainSegments: Segment[];
}

/**
 * On a redis-server of the run's own (port `port`, no persistence): `jobs` far-future jobs
 * (due 30–31 days out) added in addBulk calls of `batch`, INFO used_memory growth per job, then
 * as many jobs due now added and drained by one worker (concurrency 50, no-op handler) beside
 * that backlog, with the add and the drain rates per segment. The server is stopped and its
 * directory removed at the end.
 */
export async function redisBacklog({
  jobs,
  batch,
  every,
  port,
}: {
  jobs: number;
  batch: number;
  every: number;
  port: number;
}): Promise<RedisBacklogResult> {
  const server = new RedisServerProcess(port, ["--appendonly", "no"]);
  await server.start();
  const info = new Redis(server.url);
  const usedMemory = async () => Number(/^used_memory:(\d+)/m.exec(await info.info("memory"))![1]);
  const store = new RedisStore({ url: server.url, prefix: "backlog", checkDurability: false });
  const checkback = new Checkback({ store });
  try {
    await store.now();
    const before = await usedMemory();
    const growth = async () => (await usedMemory()) - before;

    const far = checkback.queue<{ n: number }>("far");
    const adds = new SegmentRecorder("redis far-future add", every, growth);
    for (let added = 0; added < jobs; ) {
      const size = Math.min(batch, jobs - added);
      await far.addBulk(
        Array.from({ length: size }, (_, i) => ({
          payload: { n: added + i },
          options: { delay: randomDelay(30 * DAY_MS + DAY_MS, 30 * DAY_MS) },
        })),
      );
      added += size;
      if (adds.due(added)) await adds.close(added);
    }
    const bytesPerJob = (await growth()) / jobs;

    note(`redis: ${jobs.toLocaleString("en")} due-now jobs beside the backlog`);
    const now = checkback.queue<{ n: number }>("now");
    for (let added = 0; added < jobs; added += batch) {
      await now.addBulk(
        Array.from({ length: Math.min(batch, jobs - added) }, (_, i) => ({ payload: { n: added + i } })),
      );
    }
    const drains = new SegmentRecorder("redis drain", every, async () => null);
    await new Promise<void>((resolve, reject) => {
      let done = 0;
      const worker = checkback.worker("now", () => undefined, { concurrency: 50 });
      worker.on("error", reject);
      worker.on("completed", () => {
        done += 1;
        // Called at once (not chained), so the segment moves on before the next completion is counted.
        if (drains.due(done) || done === jobs) {
          const closed = drains.close(done);
          if (done === jobs) closed.then(() => worker.close()).then(resolve, reject);
        }
      });
    });
    return { jobs, bytesPerJob, addSegments: adds.segments, drainSegments: drains.segments };
  } finally {
    await checkback.close();
    info.disconnect();
    await server.stop();
  }
}
