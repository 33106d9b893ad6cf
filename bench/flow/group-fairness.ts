import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { Command, InvalidArgumentError } from "commander";
import { Checkback } from "../../packages/checkback/src/checkback.js";
import { describeMachine } from "../lib/machine.js";
import { note } from "../lib/progress.js";
import { formatNumber, markdownTable } from "../lib/table.js";
import { openBenchStore, STORE_KINDS, type StoreKind } from "../stores.js";

/**
 * Group fairness: `--groups` groups, one of which holds `--share` of the `--jobs` jobs, every job
 * due at once and the big group's added first (the worst order for a plain FIFO queue). One
 * worker drains the queue; the figure is, for every group, the place of its first start among
 * all starts (its rank), taken in the order the claims handed the jobs out.
 *
 * Fair share: while all G groups have work, a fair queue gives each group 1/G of the starts, so
 * each group's first turn comes within the first G starts. The run passes when every group's
 * first job starts within 2G starts (twice its fair share). The same load without groups (a
 * plain FIFO queue, what BullMQ's open-source edition offers: groups are in its paid edition)
 * is run beside it for contrast. Ranks are counts, so a loaded machine cannot move them; the
 * wait in milliseconds is given too, against the time G starts take at the run's own pace.
 *
 *   npm run bench -- --scenario group-fairness [--stores memory,sqlite,redis,postgres] [--groups 1000] [--jobs 20000]
 */
interface Options {
  stores: StoreKind[];
  groups: number;
  jobs: number;
  share: number;
  concurrency: number;
  fifo: boolean;
  redisUrl: string;
  out?: string;
}

function positiveInt(value: string): number {
  const n = Number(value.replaceAll("_", ""));
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

function fraction(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n < 1)) throw new InvalidArgumentError("expected a fraction between 0 and 1");
  return n;
}

function storeList(value: string): StoreKind[] {
  const names = value.split(",").filter(Boolean);
  for (const name of names) {
    if (!(STORE_KINDS as readonly string[]).includes(name)) {
      throw new InvalidArgumentError(`stores are ${STORE_KINDS.join(", ")}`);
    }
  }
  return names as StoreKind[];
}

const program = new Command("bench-group-fairness")
  .description("group fairness: 1,000 groups, one holding 90% of the jobs; when does each group first start?")
  .option("--stores <list>", `stores (${STORE_KINDS.join(", ")})`, storeList, ["memory", "sqlite", "redis", "postgres"])
  .option("--groups <n>", "groups in all, the big one included", positiveInt, 1_000)
  .option("--jobs <n>", "jobs in all", positiveInt, 20_000)
  .option("--share <fraction>", "the big group's share of the jobs", fraction, 0.9)
  .option("--concurrency <n>", "the worker's concurrency", positiveInt, 50)
  .option("--no-fifo", "skip the same load without groups")
  .option("--redis-url <url>", "Redis for --stores redis", process.env.REDIS_URL ?? "redis://127.0.0.1:6379")
  .option("--out <json>", "also write every figure here");

const runId = `${process.pid}_${Date.now().toString(36)}`;
/** A run that has not seen every group start after this long is reported as it stands. */
const DEADLINE_MS = 300_000;

interface FairnessResult {
  store: StoreKind;
  grouped: boolean;
  loadAverage: [number, number];
  /** Starts until every group had started one job. */
  startsUntilAll: number;
  /** Every group's first-start rank (1-based), sorted. */
  ranks: number[];
  worst: { group: string; rank: number; waitMs: number };
  /** How many of the first G starts were the big group's. */
  bigAmongFirst: number;
  /** Starts per second over the run, by the store's clock. */
  pace: number;
  seenGroups: number;
}

/** Group names in the order their jobs are added: the big group's first, then the rest in turn. */
function addOrder(options: Options): string[] {
  const big = Math.round(options.jobs * options.share);
  const order: string[] = Array.from({ length: big }, () => "g0");
  for (let i = 0; order.length < options.jobs; i++) order.push(`g${1 + (i % (options.groups - 1))}`);
  return order;
}

async function runOne(kind: StoreKind, grouped: boolean, options: Options): Promise<FairnessResult> {
  const label = `${kind}, ${grouped ? "groups" : "no groups (FIFO)"}`;
  const bench = await openBenchStore(kind, { redisUrl: options.redisUrl });
  const checkback = new Checkback({ store: bench.store });
  try {
    const queue = checkback.queue<{ g: string }>(`fair_${runId}_${grouped ? "g" : "f"}`);
    const order = addOrder(options);
    note(`\n== ${label}: adding ${formatNumber(order.length)} jobs in ${formatNumber(options.groups)} groups`);
    for (let at = 0; at < order.length; at += 1_000) {
      await queue.addBulk(
        order.slice(at, at + 1_000).map((g) => ({ payload: { g }, options: grouped ? { group: g } : {} })),
      );
    }

    const firstRank = new Map<string, number>();
    const firstAt = new Map<string, number>();
    let rank = 0;
    let bigAmongFirst = 0;
    let firstStart = Number.POSITIVE_INFINITY;
    let lastStart = 0;
    let allSeen: () => void;
    const seen = new Promise<void>((resolve) => (allSeen = resolve));
    const loadStart = loadavg()[0]!;
    const worker = checkback.worker<{ g: string }>(
      queue.name,
      (job) => {
        // The order handlers begin in is the order the claims handed the jobs out (one worker).
        rank += 1;
        firstStart = Math.min(firstStart, job.updatedAt);
        lastStart = Math.max(lastStart, job.updatedAt);
        const g = job.payload.g;
        if (g === "g0" && rank <= options.groups) bigAmongFirst += 1;
        if (!firstRank.has(g)) {
          firstRank.set(g, rank);
          firstAt.set(g, job.updatedAt);
          if (firstRank.size === options.groups) allSeen();
        }
      },
      { concurrency: options.concurrency, retention: false },
    );
    worker.on("error", (error) => process.stderr.write(`worker: ${error.message}\n`));
    const progress = setInterval(
      () => note(`${label}: ${formatNumber(rank)} starts, ${formatNumber(firstRank.size)} groups started`),
      5_000,
    );
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, DEADLINE_MS).unref());
    await Promise.race([seen, deadline]);
    clearInterval(progress);
    await worker.close();
    const loadEnd = loadavg()[0]!;

    let worst = { group: "", rank: 0, waitMs: 0 };
    for (const [group, r] of firstRank) {
      if (r > worst.rank) worst = { group, rank: r, waitMs: firstAt.get(group)! - firstStart };
    }
    const result: FairnessResult = {
      store: kind,
      grouped,
      loadAverage: [loadStart, loadEnd],
      startsUntilAll: rank,
      ranks: [...firstRank.values()].sort((a, b) => a - b),
      worst,
      bigAmongFirst,
      pace: lastStart > firstStart ? (rank * 1000) / (lastStart - firstStart) : rank,
      seenGroups: firstRank.size,
    };
    note(
      `${label}: every group started within ${formatNumber(rank)} starts; worst ${worst.group} at rank ${formatNumber(worst.rank)}`,
    );
    return result;
  } finally {
    await checkback.close();
    await bench.cleanup();
  }
}

async function main(options: Options): Promise<void> {
  const machine = await describeMachine(null);
  const results: FairnessResult[] = [];
  for (const kind of options.stores) {
    results.push(await runOne(kind, true, options));
    if (options.fifo) results.push(await runOne(kind, false, options));
  }
  const G = options.groups;
  const header = [
    "store",
    "queue",
    "load avg (start → end)",
    "starts until every group started",
    "worst group's first start: rank (÷ G)",
    "median group's rank",
    "worst group's wait (ms)",
    "fair wait: G starts at the run's pace (ms)",
    "big group's starts among the first G",
    "within 2× fair share",
  ];
  const rows = results.map((r) => {
    const median = r.ranks[Math.floor(r.ranks.length / 2)] ?? 0;
    const fairMs = (G / r.pace) * 1000;
    return [
      r.store,
      r.grouped ? "groups" : "no groups (FIFO)",
      `${r.loadAverage[0].toFixed(1)} → ${r.loadAverage[1].toFixed(1)}`,
      formatNumber(r.startsUntilAll),
      `${formatNumber(r.worst.rank)} (${(r.worst.rank / G).toFixed(2)})`,
      formatNumber(median),
      formatNumber(r.worst.waitMs),
      formatNumber(fairMs),
      formatNumber(r.bigAmongFirst),
      r.seenGroups < G ? `NO (${r.seenGroups} of ${G} groups started)` : r.worst.rank <= 2 * G ? "yes" : "NO",
    ];
  });
  const big = Math.round(options.jobs * options.share);
  process.stdout.write(
    [
      `Machine: ${machine.cpus} CPUs (${machine.cpuModel}), Node ${machine.node}`,
      `${formatNumber(G)} groups, ${formatNumber(options.jobs)} jobs due at once: one group holds ${formatNumber(big)} (${Math.round(options.share * 100)} %), added first; ` +
        `the other ${formatNumber(G - 1)} share the rest; one worker, concurrency ${options.concurrency}`,
      "",
      markdownTable(header, rows),
      "",
    ].join("\n"),
  );
  if (options.out) writeFileSync(options.out, `${JSON.stringify({ machine, options, results }, null, 2)}\n`);
}

await main(program.parse().opts<Options>());
