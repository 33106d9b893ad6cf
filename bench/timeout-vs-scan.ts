import { fork } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, InvalidArgumentError, Option } from "commander";
import { describeMachine } from "./lib/machine.js";
import { note } from "./lib/progress.js";
import { BENCH_DATABASE_URL } from "./postgres/store.js";
import {
  type Comparison,
  comparisonHeading,
  comparisonTable,
  readComparisons,
  renderComparisonPng,
} from "./timeout-vs-scan/report.js";
import type { Approach, RunResult, RunSpec } from "./timeout-vs-scan/run.js";

/**
 * Order timeouts both ways — a delayed job per order, cancelled when paid, or a schedule every
 * 20 s scanning for unpaid orders older than 30 minutes — on one store, each way in a fresh
 * process, time-scaled by --speed. Prints the comparison (Markdown) and saves it as JSON;
 * `--plot` renders saved comparisons as a PNG.
 *
 *   npx tsx bench/timeout-vs-scan.ts --store sqlite --orders 10000 --speed 20
 *   npx tsx bench/timeout-vs-scan.ts --plot docs/benchmarks/timeout-vs-scan.png .tmp/timeout-vs-scan/*.json
 */
interface CliOptions {
  store: "sqlite" | "postgres";
  orders: number;
  speed: number;
  window: number;
  paid: number;
  out: string;
  plot?: string;
}

const program = new Command("timeout-vs-scan")
  .description("order timeouts by delay queue vs by a scheduled scan, side by side")
  .addOption(new Option("--store <kind>", "store").choices(["sqlite", "postgres"]).default("sqlite"))
  .option("--orders <n>", "orders created", positiveNumber, 10_000)
  .option("--speed <x>", "time scale (the 20 s scan must stay ≥ 1 s: at most 20)", positiveNumber, 20)
  .option("--window <minutes>", "orders arrive evenly over this many (un-scaled) minutes", positiveNumber, 10)
  .option("--paid <share>", "share of orders paid before the timeout", Number, 0.7)
  .option("--out <dir>", "where the comparison JSON goes", ".tmp/timeout-vs-scan")
  .option("--plot <png>", "render the given comparison JSON files as a PNG instead of running")
  .argument("[files...]", "comparison JSON files for --plot");

function positiveNumber(value: string): number {
  const n = Number(value.replaceAll("_", ""));
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("expected a positive number");
  return n;
}

async function main(options: CliOptions, files: string[]): Promise<void> {
  if (options.plot) {
    await renderComparisonPng(await readComparisons(files), options.plot);
    note(`wrote ${options.plot}`);
    return;
  }
  const m = await describeMachine(null);
  const results = {} as Record<Approach, RunResult>;
  for (const approach of ["queue", "scan"] as const) {
    note(`== ${options.store}: ${approach === "queue" ? "delay queue" : "scan every 20 s"}, ${options.orders} orders`);
    results[approach] = await runChild({
      approach,
      store: options.store,
      orders: options.orders,
      speed: options.speed,
      windowMinutes: options.window,
      paidShare: options.paid,
      databaseUrl: BENCH_DATABASE_URL,
    });
  }
  const machine =
    `${m.cpus} CPUs (${m.cpuModel}), Node ${m.node}, load average ${m.loadAverage.toFixed(2)} at start, ` +
    `${loadavg()[0]!.toFixed(2)} at end`;
  const comparison: Comparison = { machine, ...results };
  await mkdir(options.out, { recursive: true });
  const file = join(options.out, `${options.store}-${options.orders}.json`);
  await writeFile(file, JSON.stringify(comparison));
  process.stdout.write(`${comparisonHeading(comparison)}\n\n${comparisonTable(comparison)}\n`);
  if (results.scan.pagePlan) process.stdout.write(`\nscan page query plan: ${results.scan.pagePlan}\n`);
  note(`saved ${file}`);
}

function runChild(spec: RunSpec): Promise<RunResult> {
  const child = fork(fileURLToPath(new URL("./timeout-vs-scan/child.ts", import.meta.url)), [JSON.stringify(spec)], {
    execArgv: ["--import", import.meta.resolve("tsx")],
    stdio: ["ignore", 2, 2, "ipc"],
  });
  return new Promise((resolve, reject) => {
    let reply: { ok: true; result: RunResult } | { ok: false; error: string } | undefined;
    child.on("message", (message) => {
      reply = message as typeof reply;
    });
    child.on("exit", (code, signal) => {
      if (reply?.ok) resolve(reply.result);
      else reject(new Error(reply?.error ?? `benchmark process exited with ${signal ?? `code ${code}`}`));
    });
  });
}

program.parse();
await main(program.opts<CliOptions>(), program.args);
