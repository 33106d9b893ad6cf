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
import {
  checkTargets,
  overheadTable,
  SCENARIOS,
  type ScenarioName,
  type SystemRun,
  scenarioTable,
  targetsTable,
  type VariantRuns,
} from "./report.js";
import { FLOW_VARIANTS, type FlowVariant } from "./runners/system.js";
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
  flowVariants: FlowVariant[];
  repeat: number;
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
  .addOption(
    new Option(
      "--scenario <name>",
      "scenario to run (rate-limit, group-fairness and timeout-vs-scan are benchmarks of their own, with their own options)",
    )
      .choices([...SCENARIOS, "flow-overhead", "all"])
      .default("all"),
  )
  .option(
    "--flow-variants <list>",
    `flow-overhead: queue set-ups to compare, the first the baseline (${FLOW_VARIANTS.join(", ")})`,
    flowVariants,
    ["none", "limits"],
  )
  .option("--repeat <n>", "flow-overhead: rounds, each running every variant once", positiveInt, 4)
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

function flowVariants(value: string): FlowVariant[] {
  const names = value.split(",").filter(Boolean);
  for (const name of names) {
    if (!(FLOW_VARIANTS as readonly string[]).includes(name)) {
      throw new InvalidArgumentError(`variants are ${FLOW_VARIANTS.join(", ")}`);
    }
  }
  return names as FlowVariant[];
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
  if (options.scenario === "flow-overhead") {
    try {
      await measureFlowOverhead(options, settings, machine, launch, withBullmq);
    } finally {
      launch.remove();
    }
    return;
  }

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

/**
 * Flow-control overhead: the drain and the light load on a queue set up each way of
 * --flow-variants, alternated --repeat rounds inside one process per system
 * (scenarios/overhead.ts), so that a change in the machine's load falls on every variant. BullMQ
 * has only its per-queue limiter (groups are in its paid edition): its variants other than none
 * are its limiter.
 */
async function measureFlowOverhead(
  options: CliOptions,
  settings: ScenarioSettings,
  machine: Machine,
  launch: Launch,
  withBullmq: boolean,
): Promise<void> {
  const groups: VariantRuns[] = [];
  const systems = withBullmq ? (["checkback", "bullmq"] as const) : (["checkback"] as const);
  let failed = false;
  for (const system of systems) {
    const variants = system === "bullmq" ? options.flowVariants.filter((v) => v !== "groups") : options.flowVariants;
    note(
      `\n== flow-overhead: ${system === "bullmq" ? "BullMQ" : `checkback (${options.store})`}: ${variants.join(", ")} × ${options.repeat} rounds`,
    );
    const run = await runChild(
      launch,
      {
        scenario: "flow-overhead",
        system,
        store: options.store,
        redisUrl: options.redisUrl,
        settings,
        pendingCount: 0,
        pgbossRefetch: options.pgbossRefetch,
        flowVariants: variants,
        rounds: options.repeat,
      },
      undefined,
    );
    if (run.error) failed = true;
    for (const variant of variants) groups.push({ system: run.label, variant, runs: run.variants?.[variant] ?? [] });
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ machine, settings, options, groups }, null, 2)}\n`);
  } else {
    process.stdout.write(
      [
        `Machine: ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryGB} GB, Node ${machine.node}` +
          (machine.redis ? `, Redis ${machine.redis}` : ""),
        `Settings: store ${options.store}, drain ${options.jobs} jobs, concurrency ${options.concurrency}, delays 0–${options.maxDelay} ms, ` +
          `light ${options.rate} jobs/s for ${options.lightSeconds} s, runtime ${options.runtime}, ${options.repeat} rounds, the variants alternated in one process`,
        "",
        overheadTable(groups),
        "",
      ].join("\n"),
    );
  }
  process.exitCode = failed ? 1 : 0;
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
  const loadStart = loadavg()[0]!;
  const run = await forkChild(launch, spec, cpuProfDir);
  const floor = noise.stop();
  if (run.metrics) {
    Object.assign(run.metrics, { noiseP99: floor.p99, noiseMax: floor.max, loadStart, loadEnd: loadavg()[0]! });
  }
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
      if (reply?.ok) done({ label: reply.label, metrics: reply.metrics, variants: reply.variants });
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
 * Scenarios that are benchmarks of their own, with their own options, run as their own
 * process with the rest of the command line: `--scenario timeout-vs-scan` (bench/timeout-vs-scan.ts:
 * --store sqlite|postgres --orders N --speed X …), `--scenario rate-limit` (bench/flow/rate-limit.ts:
 * --stores … --seconds N), `--scenario group-fairness` (bench/flow/group-fairness.ts).
 */
const DELEGATED: Record<string, string> = {
  "timeout-vs-scan": "./timeout-vs-scan.ts",
  "rate-limit": "./flow/rate-limit.ts",
  "group-fairness": "./flow/group-fairness.ts",
};

function delegate(argv: string[]): number | null {
  const at = argv.findIndex((arg) => arg === "--scenario" || arg.startsWith("--scenario="));
  if (at === -1) return null;
  const inline = argv[at]!.startsWith("--scenario=");
  const name = inline ? argv[at]!.slice("--scenario=".length) : argv[at + 1];
  const script = name === undefined ? undefined : DELEGATED[name];
  if (script === undefined) return null;
  const rest = [...argv.slice(0, at), ...argv.slice(at + (inline ? 1 : 2))];
  const run = spawnSync(
    process.execPath,
    ["--import", import.meta.resolve("tsx"), fileURLToPath(new URL(script, import.meta.url)), ...rest],
    { stdio: "inherit" },
  );
  return run.status ?? 1;
}

const delegated = delegate(process.argv.slice(2));
if (delegated === null) await main(program.parse().opts<CliOptions>());
else process.exitCode = delegated;
