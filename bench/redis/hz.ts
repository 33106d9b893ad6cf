import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";

/**
 * Does firing precision depend on the Redis server's `hz`? Runs the light-load scenario
 * (`bench/run.ts --scenario light`, checkback beside BullMQ) once per hz value on the given
 * Redis, and prints lateness per hz. hz is restored afterwards. Use a Redis of your own:
 * CONFIG SET hz changes the whole server.
 *
 *   npx tsx bench/redis/hz.ts [--redis-url redis://127.0.0.1:6393] [--hz 1,10,100] [--light-seconds 10]
 */
const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!, process.argv[i + 1]!);
const redisUrl = args.get("--redis-url") ?? process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const hzValues = (args.get("--hz") ?? "1,10,100").split(",").map(Number);
const lightSeconds = args.get("--light-seconds") ?? "10";

interface Run {
  label: string;
  metrics: Record<string, number | null> | null;
}

const redis = new Redis(redisUrl);
const [, original] = (await redis.config("GET", "hz")) as [string, string];
const rows: string[] = [];
try {
  for (const hz of hzValues) {
    await redis.config("SET", "hz", String(hz));
    process.stderr.write(`\n== hz ${hz}\n`);
    const result = await runLight();
    for (const run of result) {
      const m = run.metrics;
      const cells = m
        ? [m.latenessP50, m.latenessP95, m.latenessP99, m.latenessMax, m.noiseP99, m.noiseMax].map((v) =>
            String(Math.round(v ?? 0)),
          )
        : ["—", "—", "—", "—", "—", "—"];
      rows.push(`| ${hz} | ${run.label} | ${cells.join(" | ")} |`);
    }
  }
} finally {
  await redis.config("SET", "hz", original);
  redis.disconnect();
}
process.stdout.write(
  [
    "| hz | system | lateness p50 (ms) | p95 | p99 | max | machine noise p99 | noise max |",
    "|---|---|---|---|---|---|---|---|",
    ...rows,
    "",
  ].join("\n"),
);

function runLight(): Promise<Run[]> {
  const run = fileURLToPath(new URL("../run.ts", import.meta.url));
  const argv = [
    "tsx",
    run,
    "--store",
    "redis",
    "--scenario",
    "light",
    "--light-seconds",
    lightSeconds,
    "--redis-url",
    redisUrl,
    "--json",
  ];
  return new Promise((resolve, reject) => {
    const child = execFile("npx", argv, { maxBuffer: 64 * 1024 * 1024 }, (error, stdout) => {
      if (error && !stdout) return reject(error);
      const report = JSON.parse(stdout) as { results: { light?: Run[] } };
      resolve(report.results.light ?? []);
    });
    child.stderr?.pipe(process.stderr);
  });
}
