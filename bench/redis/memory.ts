import { Redis } from "ioredis";
import { DEFAULT_BACKOFF } from "../../packages/checkback/src/core/backoff.js";
import { RedisStore } from "../../packages/checkback/src/stores/redis/redis-store.js";
import type { NewJob } from "../../packages/checkback/src/stores/store.js";
import { deleteByPrefix } from "./store.js";

/**
 * Where the Redis store's memory goes: adds N pending jobs with a small payload (due 30–31 days
 * out), then reports INFO used_memory growth per job and a MEMORY USAGE breakdown by kind of key.
 * With `--groups G` the jobs belong to G groups ("merchant-<n>", round-robin), and the figures
 * are per job and per group.
 *
 *   npx tsx bench/redis/memory.ts [--jobs 1000000] [--groups 0] [--redis-url redis://127.0.0.1:6379]
 *
 * Only keys under this run's own prefix are read and, at the end, deleted.
 */
const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!, process.argv[i + 1]!);
const jobs = Number(args.get("--jobs") ?? 1_000_000);
const groups = Number(args.get("--groups") ?? 0);
const redisUrl = args.get("--redis-url") ?? process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `checkback-memory-${process.pid}`;
const DAY = 86_400_000;

const raw = new Redis(redisUrl);
const store = new RedisStore({ url: redisUrl, prefix, checkDurability: false });
const job = (n: number): NewJob => ({
  queue: "pending",
  key: null,
  payload: JSON.stringify({ n }),
  when: { delayMs: 30 * DAY + Math.floor(Math.random() * DAY) },
  maxAttempts: 3,
  backoff: DEFAULT_BACKOFF,
  onDuplicate: "keep",
  group: groups > 0 ? `merchant-${n % groups}` : null,
});

try {
  const before = await usedMemory();
  const started = performance.now();
  for (let done = 0; done < jobs; done += 1000) {
    await store.add(Array.from({ length: Math.min(1000, jobs - done) }, (_, i) => job(done + i)));
  }
  const seconds = (performance.now() - started) / 1000;
  const after = await usedMemory();

  const kinds = new Map<string, { keys: number; bytes: number }>();
  for await (const keys of raw.scanStream({ match: `${prefix}:*`, count: 5_000 })) {
    for (const key of keys as string[]) {
      const kind = key.includes("}") ? kindOf(key.slice(key.indexOf("}") + 1)) : "queue registry";
      const entry = kinds.get(kind) ?? { keys: 0, bytes: 0 };
      entry.keys += 1;
      entry.bytes += (await raw.memory("USAGE", key, "SAMPLES", "0")) ?? 0;
      kinds.set(kind, entry);
    }
  }
  const total = [...kinds.values()].reduce((sum, k) => sum + k.bytes, 0);
  const perGroup = (bytes: number) => (groups > 0 ? ` ${(bytes / groups).toFixed(1)} |` : "");
  const lines = [
    `${jobs.toLocaleString("en")} pending jobs${groups > 0 ? ` in ${groups.toLocaleString("en")} groups` : ""}, payload like ${JSON.stringify(job(123456).payload)}, added in ${seconds.toFixed(1)} s (${Math.round(jobs / seconds).toLocaleString("en")} jobs/s)`,
    "",
    `| what | keys | bytes per job |${groups > 0 ? " bytes per group |" : ""}`,
    `|---|---|---|${groups > 0 ? "---|" : ""}`,
    ...[...kinds].map(
      ([kind, k]) =>
        `| ${kind} | ${k.keys.toLocaleString("en")} | ${(k.bytes / jobs).toFixed(1)} |${perGroup(k.bytes)}`,
    ),
    `| all keys (MEMORY USAGE) | | ${(total / jobs).toFixed(1)} |${perGroup(total)}`,
    `| INFO used_memory growth | | ${((after - before) / jobs).toFixed(1)} |${perGroup(after - before)}`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
} finally {
  await store.close();
  await deleteByPrefix(redisUrl, prefix);
  raw.disconnect();
}

function kindOf(suffix: string): string {
  if (suffix.startsWith(":d:")) return "due-index buckets (listpack zsets)";
  if (suffix === ":t") return "due-index directory";
  if (suffix.startsWith(":r:")) return "records (listpack hash buckets)";
  if (suffix === ":R") return "large records";
  if (suffix.startsWith(":g:") || suffix.startsWith(":gb:"))
    return "groups' job sets and their buckets (listpack zsets)";
  if (suffix.startsWith(":gd:")) return "directories of groups' buckets";
  if (suffix === ":gr") return "ready groups (zset)";
  if (suffix === ":gs") return "group states (hash)";
  if (suffix === ":gt" || suffix.startsWith(":gx:")) return "grouped jobs' listing index (listpack zsets)";
  return `other (${suffix})`;
}

async function usedMemory(): Promise<number> {
  const info = await raw.info("memory");
  return Number(/^used_memory:(\d+)/m.exec(info)![1]);
}
