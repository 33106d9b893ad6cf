import { type ChildProcess, fork, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { PostgresServerProcess } from "../../test/support/postgres-server-process.js";
import { RedisServerProcess } from "../../test/support/redis-server-process.js";
import { Ledger } from "./ledger.js";

/**
 * `npm run soak [-- --minutes 30 --store sqlite|redis|postgres]`: a long mixed run, not part of
 * CI. A checkback server runs in a process of its own; producers add delayed jobs through the
 * library (in this process) and through HTTP; library workers run in child processes that are
 * SIGKILLed and restarted at random; a Redis or PostgreSQL store (private, on ports 6429/5469)
 * is killed and restarted half-way. Every job carries a unique mark kept in a ledger. One line
 * per interval gives RSS and lateness; the run fails (exit 1) if anything acknowledged is never
 * delivered, or if the server's RSS still grows over the second half.
 */
const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "30" },
    store: { type: "string", default: "sqlite" },
    rate: { type: "string", default: "20" },
    workers: { type: "string", default: "2" },
    "max-rss-slope": { type: "string", default: "1" },
  },
});
const MINUTES = Number(values.minutes);
const STORE = values.store as "sqlite" | "redis" | "postgres";
const RATE = Number(values.rate); // adds per second, per producer
const WORKERS = Number(values.workers);
const MAX_RSS_SLOPE_MB_PER_MIN = Number(values["max-rss-slope"]);
if (!(MINUTES > 0) || !["sqlite", "redis", "postgres"].includes(STORE) || !(RATE > 0) || !(WORKERS > 0)) {
  console.error("usage: npm run soak -- [--minutes N] [--store sqlite|redis|postgres] [--rate N] [--workers N]");
  process.exit(2);
}
const DURATION_MS = MINUTES * 60_000;
const INTERVAL_MS = MINUTES >= 10 ? 30_000 : 15_000;
const DRAIN_MS = 90_000;
const MAX_DELAY_MS = 5_000;
/** Growth over the second half below this is not called a leak, whatever the slope. */
const MIN_RSS_GROWTH_MB = 8;
const QUEUE = "soak";
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface PrivateStore {
  url: string;
  restart?: () => Promise<void>;
  destroy(): Promise<void>;
}

async function openPrivateStore(dir: string): Promise<PrivateStore> {
  if (STORE === "redis") {
    const redis = new RedisServerProcess(6429, ["--appendonly", "yes", "--appendfsync", "always"]);
    await redis.start();
    return {
      url: redis.url,
      restart: async () => {
        await redis.kill();
        await sleep(3_000);
        await redis.start();
      },
      destroy: () => redis.stop(),
    };
  }
  if (STORE === "postgres") {
    const pg = new PostgresServerProcess(5469);
    await pg.start();
    return {
      url: pg.url,
      restart: async () => {
        await pg.stop();
        await sleep(3_000);
        await pg.start();
      },
      destroy: () => pg.destroy(),
    };
  }
  return { url: `sqlite:${join(dir, "soak.db")}`, destroy: async () => {} };
}

function startServer(store: string): Promise<{ child: ChildProcess; url: string }> {
  const args = [
    "--import",
    "tsx",
    "packages/server/src/cli/main.ts",
    "serve",
    "--port",
    "0",
    "--store",
    store,
    "--log-level",
    "info",
  ];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const match = /"url":"(http:\/\/[^"]+)"/.exec(out);
      if (match) {
        out = "";
        // Keep reading (and dropping) its log so the pipe never fills.
        child.stdout!.off("data", onData).on("data", () => {});
        resolve({ child, url: match[1]! });
      }
    };
    child.stdout!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
  });
}

function rssMB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** Least-squares slope of (minute, MB) points. */
function slope(points: [number, number][]): number {
  const n = points.length;
  if (n < 3) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return sxx === 0 ? 0 : sxy / sxx;
}

function within<T>(call: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("timed out")), ms);
  });
  call.catch(() => {});
  return Promise.race([call, expired]).finally(() => clearTimeout(timer));
}

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "checkback-soak-"));
  const store = await openPrivateStore(dir);
  const server = await startServer(store.url);
  const checkback = new Checkback({ store: store.url });
  const queue = checkback.queue<{ mark: string }>(QUEUE);
  const ledger = new Ledger();
  const started = Date.now();
  const elapsedMin = () => (Date.now() - started) / 60_000;
  let producing = true;
  let kills = 0;
  let sequence = 0;
  console.log(
    `soak: ${MINUTES} min on ${STORE} (${store.url}), server ${server.url}, ${WORKERS} workers, ${RATE} adds/s via the library and ${RATE}/s via HTTP`,
  );

  // Producers: one through the library, one through HTTP. A refused add is not in the ledger.
  const produce = async (via: "lib" | "http") => {
    while (producing) {
      const mark = `${via}-${sequence++}`;
      const delayMs = Math.floor(Math.random() * MAX_DELAY_MS);
      try {
        if (via === "lib") {
          await within(queue.add({ mark }, { delay: delayMs }), 10_000);
        } else {
          const response = await fetch(`${server.url}/v1/queues/${QUEUE}/jobs`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ payload: { mark }, delay: delayMs }),
            signal: AbortSignal.timeout(10_000),
          });
          await response.arrayBuffer();
          if (response.status !== 201) throw new Error(`HTTP ${response.status}`);
        }
        ledger.acked(mark);
      } catch {
        ledger.refused += 1;
      }
      await sleep(1000 / RATE);
    }
  };

  // Workers in child processes, each SIGKILLed at a random moment and started again.
  const workers = new Set<ChildProcess>();
  let chaos = true;
  const runWorker = async () => {
    while (chaos) {
      const child = fork(join(ROOT, "bench/soak/worker.ts"), [store.url, QUEUE], {
        execArgv: ["--import", "tsx"],
        stdio: ["ignore", "ignore", "inherit", "ipc"],
      });
      workers.add(child);
      child.on("message", (m: { mark: string; latenessMs: number }) => ledger.deliveredMark(m.mark, m.latenessMs));
      const exited = new Promise((resolve) => child.once("exit", resolve));
      const lifetime = 15_000 + Math.random() * 30_000;
      await Promise.race([sleep(lifetime), exited]);
      if (child.exitCode === null && child.signalCode === null && chaos) {
        child.kill("SIGKILL");
        kills += 1;
      }
      await exited;
      workers.delete(child);
      if (chaos) await sleep(1_000);
    }
  };
  const workerLoops = Array.from({ length: WORKERS }, () => runWorker());
  const producers = [produce("lib"), produce("http")];

  const samples: [number, number][] = [];
  const report = () => {
    const serverRss = rssMB(server.child.pid!);
    samples.push([elapsedMin(), serverRss]);
    const late = ledger.takeLateness();
    console.log(
      [
        `t=${String(Math.round((Date.now() - started) / 1000)).padStart(5)}s`,
        `rss server=${serverRss.toFixed(1)}MB soak=${(process.memoryUsage.rss() / 2 ** 20).toFixed(1)}MB`,
        `acked=${ledger.acknowledged} refused=${ledger.refused} delivered=${ledger.deliveries} missing=${ledger.missing}`,
        `lateness n=${late.count} p50=${late.p50}ms p99=${late.p99}ms`,
        `worker kills=${kills}`,
      ].join("  "),
    );
  };
  const reporter = setInterval(report, INTERVAL_MS);

  let restarted = false;
  while (Date.now() - started < DURATION_MS) {
    await sleep(1_000);
    if (!restarted && store.restart && Date.now() - started > DURATION_MS / 2) {
      restarted = true;
      console.log(`t=${Math.round((Date.now() - started) / 1000)}s  restarting the ${STORE} server`);
      await store.restart();
      console.log(`t=${Math.round((Date.now() - started) / 1000)}s  ${STORE} is back`);
    }
  }
  producing = false;
  await Promise.all(producers);
  console.log(`producers stopped; draining (at most ${DRAIN_MS / 1000}s)`);
  const drainDeadline = Date.now() + DRAIN_MS;
  while (ledger.missing > 0 && Date.now() < drainDeadline) await sleep(500);
  clearInterval(reporter);
  report();

  chaos = false;
  for (const child of workers) child.kill("SIGKILL");
  await Promise.all(workerLoops);
  server.child.kill("SIGTERM");
  await new Promise((resolve) => server.child.once("exit", resolve));
  await within(checkback.close(), 5_000).catch(() => {});
  await store.destroy();
  rmSync(dir, { recursive: true, force: true });

  const secondHalf = samples.filter(([minute]) => minute >= MINUTES / 2 && minute <= MINUTES);
  const rssSlope = slope(secondHalf);
  const lost = ledger.missing;
  console.log(
    `result: acked=${ledger.acknowledged} lost=${lost} refused=${ledger.refused} deliveries=${ledger.deliveries} worker kills=${kills}` +
      ` server RSS slope over the second half=${rssSlope.toFixed(2)} MB/min (limit ${MAX_RSS_SLOPE_MB_PER_MIN}, with ${MIN_RSS_GROWTH_MB} MB of growth)`,
  );
  let failed = false;
  if (lost > 0) {
    console.log(`FAIL: ${lost} acknowledged jobs never delivered, e.g. ${ledger.someMissing(10).join(", ")}`);
    failed = true;
  }
  // Both: a short run's slope is mostly warm-up noise, a few MB at most.
  if (rssSlope > MAX_RSS_SLOPE_MB_PER_MIN && rssSlope * (MINUTES / 2) > MIN_RSS_GROWTH_MB) {
    console.log("FAIL: the server's memory keeps growing");
    failed = true;
  }
  if (!failed) console.log("PASS");
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`soak: ${error.stack ?? error.message}`);
    process.exit(1);
  },
);
