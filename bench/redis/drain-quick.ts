import { Redis } from "ioredis";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { DEFAULT_BACKOFF } from "../../packages/checkback/src/core/backoff.js";
import { RedisStore } from "../../packages/checkback/src/stores/redis/redis-store.js";
import { deleteByPrefix } from "./store.js";

/**
 * A quick add-then-drain run on the Redis store alone, for before/after comparisons of a change
 * to the scripts: N jobs added with addBulk (1,000 per call, due at once), then one worker
 * (concurrency 50, no-op handler) runs them all. Reports wall-clock jobs/s and CPU µs per job
 * on both sides (this process; the Redis server's INFO cpu, server-wide: use a Redis nothing
 * else is using). With `--groups G` every job carries one of G groups (round-robin), so the
 * grouped path is measured the same way.
 *
 *   npx tsx bench/redis/drain-quick.ts [--jobs 50000] [--groups 0] [--rounds 1] [--redis-url redis://127.0.0.1:6393]
 */
const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!, process.argv[i + 1]!);
const jobs = Number(args.get("--jobs") ?? 50_000);
const groups = Number(args.get("--groups") ?? 0);
const rounds = Number(args.get("--rounds") ?? 1);
const redisUrl = args.get("--redis-url") ?? process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const BATCH = 1_000;
const CONCURRENCY = 50;

const monitor = new Redis(redisUrl);

async function redisCpuUs(): Promise<number> {
  const info = await monitor.info("cpu");
  const user = Number(/used_cpu_user:([\d.]+)/.exec(info)![1]);
  const system = Number(/used_cpu_sys:([\d.]+)/.exec(info)![1]);
  return (user + system) * 1e6;
}

interface Phase {
  perSecond: number;
  processUs: number;
  redisUs: number;
}

async function measure(work: () => Promise<void>): Promise<Phase> {
  const redisBefore = await redisCpuUs();
  const before = process.cpuUsage();
  const started = performance.now();
  await work();
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(before);
  const redisUs = (await redisCpuUs()) - redisBefore;
  return { perSecond: jobs / seconds, processUs: (used.user + used.system) / jobs, redisUs: redisUs / jobs };
}

async function round(n: number): Promise<{ add: Phase; run: Phase }> {
  const prefix = `checkback-quick-${process.pid}-${n}`;
  const store = new RedisStore({ url: redisUrl, prefix, checkDurability: false });
  const cb = new Checkback({ store });
  try {
    const add = await measure(async () => {
      for (let i = 0; i < jobs; i += BATCH) {
        const batch = Array.from({ length: Math.min(BATCH, jobs - i) }, (_, k) => {
          const job = { n: i + k };
          return {
            queue: "quick",
            key: null,
            payload: JSON.stringify(job),
            when: { delayMs: 0 },
            maxAttempts: 3,
            backoff: DEFAULT_BACKOFF,
            onDuplicate: "keep" as const,
            ...(groups > 0 ? { group: `g-${(i + k) % groups}` } : {}),
          };
        });
        await store.add(batch);
      }
    });
    let worker: ReturnType<typeof cb.worker> | undefined;
    const run = await measure(
      () =>
        new Promise<void>((resolve) => {
          let done = 0;
          worker = cb.worker("quick", async () => {}, { concurrency: CONCURRENCY });
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

const row = (label: string, p: Phase) =>
  `| ${label} | ${Math.round(p.perSecond).toLocaleString("en")} | ${p.processUs.toFixed(1)} | ${p.redisUs.toFixed(1)} | ${(p.processUs + p.redisUs).toFixed(1)} |`;
const lines = [
  `${jobs.toLocaleString("en")} jobs${groups > 0 ? ` in ${groups.toLocaleString("en")} groups` : ""}, addBulk ${BATCH}/call, concurrency ${CONCURRENCY}, no-op handler`,
  "",
  "| round, phase | jobs/s | process µs/job | Redis µs/job | total µs/job |",
  "|---|---|---|---|---|",
];
for (let n = 1; n <= rounds; n++) {
  const { add, run } = await round(n);
  lines.push(row(`${n}, add`, add), row(`${n}, claim + run + complete`, run));
}
monitor.disconnect();
process.stdout.write(`${lines.join("\n")}\n`);
