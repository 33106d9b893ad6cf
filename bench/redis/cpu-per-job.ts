import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { RedisStore } from "../../packages/checkback/src/stores/redis/redis-store.js";
import { deleteByPrefix } from "./store.js";

/**
 * CPU per job, on both sides of the wire: this process (user + system time) and the Redis
 * server (INFO cpu, server-wide — use a Redis nothing else is using). N jobs are added with
 * addBulk (1,000 per call, due at once), then one worker with concurrency 50 runs them all with
 * a no-op handler; the same for BullMQ. CPU time, unlike wall time, barely depends on what else
 * the machine is doing, so this is the steadiest comparison a shared machine allows.
 *
 *   npx tsx bench/redis/cpu-per-job.ts [--jobs 20000] [--redis-url redis://127.0.0.1:6393]
 */
const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!, process.argv[i + 1]!);
const jobs = Number(args.get("--jobs") ?? 20_000);
const redisUrl = args.get("--redis-url") ?? process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const BATCH = 1_000;
const CONCURRENCY = 50;

const monitor = new Redis(redisUrl);

interface Phase {
  processUs: number;
  redisUs: number;
}

async function redisCpuUs(): Promise<number> {
  const info = await monitor.info("cpu");
  const user = Number(/used_cpu_user:([\d.]+)/.exec(info)![1]);
  const system = Number(/used_cpu_sys:([\d.]+)/.exec(info)![1]);
  return (user + system) * 1e6;
}

async function measure(work: () => Promise<void>): Promise<Phase> {
  const redisBefore = await redisCpuUs();
  const before = process.cpuUsage();
  await work();
  const used = process.cpuUsage(before);
  const redisUs = (await redisCpuUs()) - redisBefore;
  return { processUs: (used.user + used.system) / jobs, redisUs: redisUs / jobs };
}

async function checkback(): Promise<{ add: Phase; run: Phase }> {
  const prefix = `checkback-cpu-${process.pid}`;
  const store = new RedisStore({ url: redisUrl, prefix, checkDurability: false });
  const cb = new Checkback({ store });
  const queue = cb.queue<{ n: number }>("cpu");
  try {
    const add = await measure(async () => {
      for (let i = 0; i < jobs; i += BATCH) {
        await queue.addBulk(Array.from({ length: Math.min(BATCH, jobs - i) }, (_, k) => ({ payload: { n: i + k } })));
      }
    });
    let worker: ReturnType<typeof cb.worker> | undefined;
    const run = await measure(
      () =>
        new Promise<void>((resolve) => {
          let done = 0;
          worker = cb.worker("cpu", async () => {}, { concurrency: CONCURRENCY });
          worker.on("completed", () => {
            if (++done === jobs) resolve();
          });
        }),
    );
    await worker?.close();
    return { add, run };
  } finally {
    await cb.close();
    await deleteByPrefix(redisUrl, prefix);
  }
}

async function bullmq(): Promise<{ add: Phase; run: Phase }> {
  const prefix = `checkback-cpu-bullmq-${process.pid}`;
  const connection = { url: redisUrl };
  const queue = new Queue<{ n: number }>("cpu", {
    connection,
    prefix,
    defaultJobOptions: { removeOnComplete: 1000, removeOnFail: 1000 },
  });
  try {
    const add = await measure(async () => {
      for (let i = 0; i < jobs; i += BATCH) {
        await queue.addBulk(
          Array.from({ length: Math.min(BATCH, jobs - i) }, (_, k) => ({ name: "job", data: { n: i + k } })),
        );
      }
    });
    let worker: Worker | undefined;
    const run = await measure(
      () =>
        new Promise<void>((resolve) => {
          let done = 0;
          worker = new Worker("cpu", async () => {}, { connection, prefix, concurrency: CONCURRENCY });
          worker.on("completed", () => {
            if (++done === jobs) resolve();
          });
        }),
    );
    await worker?.close();
    return { add, run };
  } finally {
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

const ours = await checkback();
const theirs = await bullmq();
monitor.disconnect();

const row = (label: string, phase: Phase, other: Phase) =>
  `| ${label} | ${phase.processUs.toFixed(1)} | ${phase.redisUs.toFixed(1)} | ${(phase.processUs + phase.redisUs).toFixed(1)} | ${((other.processUs + other.redisUs) / (phase.processUs + phase.redisUs)).toFixed(2)} |`;
process.stdout.write(
  [
    `${jobs.toLocaleString("en")} jobs, addBulk ${BATCH}/call, concurrency ${CONCURRENCY}, no-op handler; µs of CPU per job`,
    "",
    "| phase, system | process | Redis server | total | BullMQ total / this |",
    "|---|---|---|---|---|",
    row("add, checkback (redis)", ours.add, theirs.add),
    row("add, BullMQ", theirs.add, theirs.add),
    row("claim + run + complete, checkback (redis)", ours.run, theirs.run),
    row("claim + run + complete, BullMQ", theirs.run, theirs.run),
    "",
  ].join("\n"),
);
