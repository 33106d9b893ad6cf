import { fork, spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, InvalidArgumentError, Option } from "commander";
import type { ChildReply, ChildSpec } from "./child.js";
import { buildChild } from "./lib/build.js";
import { describeMachine, type Machine } from "./lib/machine.js";
import { note } from "./lib/progress.js";
import { redisUsedMemory } from "./lib/redis-info.js";
import { TimerNoise } from "./lib/timer-noise.js";
import { BENCH_DATABASE_URL } from "./postgres/store.js";
import { checkTargets, SCENARIOS, type ScenarioName, type SystemRun, scenarioTable, targetsTable } from "./report.js";
import type { Metrics, ScenarioSettings } from "./scenarios/settings.js";
import { STORE_KINDS, type StoreKind } from "./stores.js";
import { PGBOSS_POLLING_INTERVAL_SECONDS, type SystemName, systemLabel } from "./systems.js";

/**
 * `npm run bench`: checkback against BullMQ and, with `--store postgres`, pg-boss on the same
 * machine, in the same run. Each (scenario, system) pair runs in a fresh child process; progress
 * goes to stderr, the tables (Markdown) or --json to stdout.
 */
interface CliOptions {
  store: StoreKind;
  scenario: ScenarioName | "all";
  jobs: number;
  concurrency: number;
  pending: number;
  bullmqPending?: number;
  pgbossPending?: number;
  rate: number;
  lightSeconds: number;
  maxDelay: number;
  batch: number;
  bullmq: boolean;
  pgboss: boolean;
  pgbossRefetch: boolean;
  json: boolean;
  redisUrl: string;
  cpuProf?: string;
  runtime: "node" | "tsx";
}

const program = new Command("bench")
  .description(
    "checkback benchmarks: burst, light load and a large far-future backlog, beside BullMQ and (on PostgreSQL) pg-boss",
  )
  .addOption(new Option("--store <kind>", "checkback store").choices(STORE_KINDS).default("sqlite"))
  .addOption(new Option("--scenario <name>", "scenario to run").choices([...SCENARIOS, "all"]).default("all"))
  .option("--jobs <n>", "jobs in the burst scenario", positiveInt, 50_000)
  .option("--concurrency <n>", "worker concurrency", positiveInt, 50)
  .option("--pending <n>", "far-future jobs in the pending scenario", positiveInt, 1_000_000)
  .option("--bullmq-pending <n>", "far-future jobs for BullMQ (default: --pending)", positiveInt)
  .option("--pgboss-pending <n>", "far-future jobs for pg-boss (default: --pending)", positiveInt)
  .option("--rate <n>", "light load: jobs added per second", positiveInt, 1_000)
  .option("--light-seconds <n>", "light load: how long the producer runs", positiveInt, 15)
  .option("--max-delay <ms>", "burst and light jobs are due within this many ms", positiveInt, 5_000)
  .option("--batch <n>", "jobs per addBulk call", positiveInt, 1_000)
  .option("--no-bullmq", "skip the BullMQ side")
  .option("--no-pgboss", "skip the pg-boss side (it runs with --store postgres only)")
  .option(
    "--no-pgboss-refetch",
    "pg-boss waits out its polling interval after every batch, full or not (default: fetches again at once after a full batch)",
  )
  .option("--json", "print results as JSON instead of tables", false)
  .option("--redis-url <url>", "Redis for BullMQ", process.env.REDIS_URL ?? "redis://127.0.0.1:6379")
  .option("--cpu-prof <dir>", "write a V8 CPU profile of each checkback process into <dir>")
  .addOption(
    new Option("--runtime <runtime>", "measured processes run compiled on bare node, or under tsx")
      .choices(["node", "tsx"])
      .default("node"),
  );

function positiveInt(value: string): number {
  const n = Number(value.replaceAll("_", ""));
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

type Results = Partial<Record<ScenarioName, SystemRun[]>>;

async function main(options: CliOptions): Promise<void> {
  const settings: ScenarioSettings = {
    jobs: options.jobs,
    concurrency: options.concurrency,
    maxDelayMs: options.maxDelay,
    batch: options.batch,
    rate: options.rate,
    lightSeconds: options.lightSeconds,
    pending: options.pending,
    farDelayMs: 30 * 86_400_000,
  };
  const withBullmq = options.bullmq && (await redisReachable(options.redisUrl));
  // pg-boss is compared with checkback on the same PostgreSQL, never with another store.
  const withPgboss = options.pgboss && options.store === "postgres";
  const systems: SystemName[] = [
    "checkback",
    ...(withBullmq ? ["bullmq" as const] : []),
    ...(withPgboss ? ["pgboss" as const] : []),
  ];
  const machine = await describeMachine(
    withBullmq || options.store === "redis" ? options.redisUrl : null,
    options.store === "postgres" ? BENCH_DATABASE_URL : null,
  );
  const scenarios = options.scenario === "all" ? SCENARIOS : [options.scenario];
  const launch = childLauncher(options.runtime);

  const results: Results = {};
  try {
    for (const scenario of scenarios) {
      const runs: SystemRun[] = [];
      for (const system of systems) {
        const pendingCount =
          system === "bullmq"
            ? (options.bullmqPending ?? options.pending)
            : system === "pgboss"
              ? (options.pgbossPending ?? options.pending)
              : options.pending;
        const choice = { store: options.store, pgbossRefetch: options.pgbossRefetch };
        note(`\n== ${scenario}: ${systemLabel(system, choice)}`);
        runs.push(
          await runChild(
            launch,
            { scenario, system, ...choice, redisUrl: options.redisUrl, settings, pendingCount },
            system === "checkback" ? options.cpuProf : undefined,
          ),
        );
      }
      results[scenario] = runs;
    }
  } finally {
    launch.remove();
  }

  const ours = Object.fromEntries(Object.entries(results).map(([name, runs]) => [name, runs[0]?.metrics ?? null]));
  const targets = checkTargets(ours as Partial<Record<ScenarioName, Metrics | null>>);
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ machine, settings, options, results, targets }, null, 2)}\n`);
  } else {
    process.stdout.write(renderTables(machine, options, withPgboss, results, targets));
  }
  const failed = Object.values(results).some((runs) => runs.some((run) => run.error));
  process.exitCode = failed ? 1 : 0;
}

function renderTables(
  machine: Machine,
  options: CliOptions,
  withPgboss: boolean,
  results: Results,
  targets: ReturnType<typeof checkTargets>,
): string {
  const out = [
    `Machine: ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryGB} GB, Node ${machine.node}` +
      (machine.redis ? `, Redis ${machine.redis}` : "") +
      (machine.postgres ? `, PostgreSQL ${machine.postgres}` : "") +
      `; load average at start ${machine.loadAverage.toFixed(2)}, at end ${loadavg()[0]!.toFixed(2)}`,
    `Settings: store ${options.store}, burst ${options.jobs} jobs, concurrency ${options.concurrency}, ` +
      `delays 0–${options.maxDelay} ms, runtime ${options.runtime}, addBulk ${options.batch}/call, light ${options.rate} jobs/s for ${options.lightSeconds} s, ` +
      `pending ${options.pending}${options.bullmqPending ? ` (BullMQ ${options.bullmqPending})` : ""}` +
      `${withPgboss && options.pgbossPending ? ` (pg-boss ${options.pgbossPending})` : ""}`,
  ];
  if (withPgboss) {
    out.push(
      `pg-boss: one work() per queue, batchSize ${options.concurrency}, polling every ${PGBOSS_POLLING_INTERVAL_SECONDS} s, ` +
        (options.pgbossRefetch
          ? "fetches again at once after a full batch (notifyWorker)"
          : "no refetch after a full batch"),
    );
  }
  out.push("");
  for (const [scenario, runs] of Object.entries(results) as [ScenarioName, SystemRun[]][]) {
    out.push(`### ${scenario}`, "", scenarioTable(scenario, runs), "");
  }
  if (targets.length > 0) out.push("### targets", "", targetsTable(targets), "");
  return `${out.join("\n")}\n`;
}

interface Launch {
  childPath: string;
  execArgv: string[];
  /** Removes what preparing the launch created. */
  remove(): void;
}

function childLauncher(runtime: "node" | "tsx"): Launch {
  if (runtime === "tsx") {
    return {
      childPath: fileURLToPath(new URL("./child.ts", import.meta.url)),
      execArgv: ["--import", import.meta.resolve("tsx")],
      remove: () => {},
    };
  }
  note("compiling the benchmark process (bench/child.ts) to JavaScript");
  const build = buildChild(fileURLToPath(new URL("..", import.meta.url)));
  return { childPath: build.childPath, execArgv: [], remove: build.remove };
}

async function runChild(launch: Launch, spec: ChildSpec, cpuProfDir: string | undefined): Promise<SystemRun> {
  const noise = new TimerNoise().start();
  const run = await forkChild(launch, spec, cpuProfDir);
  const floor = noise.stop();
  if (run.metrics) Object.assign(run.metrics, { noiseP99: floor.p99, noiseMax: floor.max });
  return run;
}

function forkChild(launch: Launch, spec: ChildSpec, cpuProfDir: string | undefined): Promise<SystemRun> {
  const { childPath } = launch;
  const execArgv = [...launch.execArgv, "--expose-gc"];
  if (cpuProfDir) {
    mkdirSync(resolve(cpuProfDir), { recursive: true });
    // Node's default file names carry pid and thread id: the loader thread's profile cannot
    // overwrite the main thread's.
    execArgv.push("--cpu-prof", `--cpu-prof-dir=${resolve(cpuProfDir)}`);
  }
  return new Promise((done) => {
    // The child's stdout goes to our stderr: stdout is kept for the results alone.
    const child = fork(childPath, [JSON.stringify(spec)], { execArgv, stdio: ["ignore", 2, 2, "ipc"] });
    let reply: ChildReply | undefined;
    child.on("message", (message) => {
      reply = message as ChildReply;
    });
    child.on("exit", (code, signal) => {
      if (reply?.ok) done({ label: reply.label, metrics: reply.metrics });
      else {
        const error = reply?.error ?? `benchmark process exited with ${signal ?? `code ${code}`}`;
        note(error);
        done({ label: reply?.label ?? spec.system, metrics: null, error: error.split("\n")[0]! });
      }
    });
  });
}

async function redisReachable(redisUrl: string): Promise<boolean> {
  try {
    await redisUsedMemory(redisUrl);
    return true;
  } catch (error) {
    note(
      `\n*** Redis at ${redisUrl} is unreachable (${(error as Error).message}): running WITHOUT the BullMQ side. ***\n`,
    );
    return false;
  }
}

/**
 * `--scenario timeout-vs-scan` is a benchmark of its own, with its own options
 * (bench/timeout-vs-scan.ts: --store sqlite|postgres --orders N --speed X …): hand it the rest.
 */
function delegateTimeoutVsScan(argv: string[]): number | null {
  const at = argv.indexOf("--scenario");
  const inline = argv.indexOf("--scenario=timeout-vs-scan");
  if (inline === -1 && (at === -1 || argv[at + 1] !== "timeout-vs-scan")) return null;
  const rest = inline === -1 ? [...argv.slice(0, at), ...argv.slice(at + 2)] : argv.filter((_, i) => i !== inline);
  const script = fileURLToPath(new URL("./timeout-vs-scan.ts", import.meta.url));
  const run = spawnSync(process.execPath, ["--import", import.meta.resolve("tsx"), script, ...rest], {
    stdio: "inherit",
  });
  return run.status ?? 1;
}

const delegated = delegateTimeoutVsScan(process.argv.slice(2));
if (delegated === null) await main(program.parse().opts<CliOptions>());
else process.exitCode = delegated;
