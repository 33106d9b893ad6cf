import { loadavg } from "node:os";
import { Command, InvalidArgumentError, Option } from "commander";
import { Check } from "../packages/checkback/src/checks/check.js";
import { parseDuration } from "../packages/checkback/src/core/duration.js";
import { LatenessRecorder, type LatenessSummary } from "./lib/lateness.js";
import { describeMachine } from "./lib/machine.js";
import { note } from "./lib/progress.js";
import { MB, RssSampler } from "./lib/rss.js";
import { formatNumber } from "./lib/table.js";
import { ThreadNoise } from "./lib/thread-noise.js";
import { quotaLateness, startsPerWindow, type WindowReport } from "./lib/windows.js";
import type { Footprint } from "./runners/system.js";
import { openBenchStore } from "./stores.js";

/**
 * `npx tsx bench/checks.ts`: many concurrent delayed checks probing on a fixed interval
 * against a stub probe that always answers pending, in one process.
 *
 * The checks are started evenly over one interval (the ramp), as checks started by real
 * traffic would be, so the steady state is `checks / interval` probes per second. After one
 * more interval of warm-up, the measurement window counts probes and records each probe's
 * lateness (start minus due instant, both on the store's clock) in an HDR histogram.
 *
 * With `--probe-rate` the check has a probe rate limit (its `probeRate`), and the window also
 * counts probes per 1-s window of the store's clock against it, and sets the probes' lateness
 * beside the lateness the quota alone forces (lib/windows.ts quotaLateness): `--ramp`,
 * `--first` and `--warm-up` shape the demand, e.g. every check's first probe due within a few
 * seconds, far above the quota.
 */
interface Options {
  checks: number;
  every: string;
  first?: string;
  ramp?: string;
  warmUp?: string;
  measure: string;
  probeRate?: number;
  probePer: string;
  group?: string;
  store: "memory" | "sqlite" | "redis";
  redisUrl: string;
  concurrency: number;
  probeLatency: number;
  json: boolean;
}

const program = new Command("bench-checks")
  .description("delayed checks: N concurrent checks probing every interval against a stub probe")
  .option("--checks <n>", "concurrent checks", positiveInt, 100_000)
  .option("--every <duration>", "probe interval", "10s")
  .option("--first <duration>", "wait before each check's first probe (default: --every)")
  .option("--ramp <duration>", "the checks are started evenly over this (default: --every)")
  .option("--warm-up <duration>", "wait after the ramp before measuring (default: --every)")
  .option("--measure <duration>", "measurement window, after ramp and warm-up", "60s")
  .option("--probe-rate <n>", "probe rate limit: at most n probes per --probe-per (the check's probeRate)", positiveInt)
  .option("--probe-per <duration>", "the probe rate limit's interval", "1s")
  .option("--group <name>", "every probe in this group: --probe-rate then limits the group (outcomes are outside it)")
  .addOption(new Option("--store <kind>", "store").choices(["memory", "sqlite", "redis"]).default("memory"))
  .option("--redis-url <url>", "Redis for --store redis (use a private instance)", "redis://127.0.0.1:6460")
  .option("--concurrency <n>", "worker concurrency (probes in flight)", positiveInt, 500)
  .option("--probe-latency <ms>", "stub probe answers after this many ms (0: at once)", nonNegativeInt, 0)
  .option("--json", "print the result as JSON", false);

function positiveInt(value: string): number {
  const n = Number(value.replaceAll("_", ""));
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected an integer ≥ 0");
  return n;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const options = program.parse().opts<Options>();
  const everyMs = parseDuration(options.every, "--every");
  const firstMs = parseDuration(options.first ?? options.every, "--first");
  const rampMsPlanned = parseDuration(options.ramp ?? options.every, "--ramp");
  const warmUpMs = parseDuration(options.warmUp ?? options.every, "--warm-up");
  const measureMs = parseDuration(options.measure, "--measure");
  const probeLimit =
    options.probeRate === undefined
      ? null
      : { rate: options.probeRate, perMs: parseDuration(options.probePer, "--probe-per") };
  const bench = await openBenchStore(options.store, { redisUrl: options.redisUrl });
  const rss = new RssSampler();
  // RSS before any check exists: the growth over it, per check, is this process's cost of a check.
  const baselineRss = rss.sample();
  const footprintBefore = await bench.footprint();

  let measuring = false;
  let probes = 0;
  const lateness = new LatenessRecorder();
  const perSecond: number[] = [];
  // Every probe of the window, for the per-window counts and the quota's own lateness.
  const probeStarts: number[] = [];
  const probeDues: number[] = [];
  const check = new Check<{ n: number }, never>(
    "bench",
    bench.store,
    {
      schedule:
        firstMs === everyMs
          ? { every: everyMs, times: 10_000 }
          : [firstMs, ...Array.from({ length: 9_999 }, () => everyMs)],
      ...(probeLimit ? { probeRate: { rate: probeLimit.rate, per: probeLimit.perMs } } : {}),
      ...(options.group ? { group: options.group } : {}),
      probe: async ({ runAt, startedAt, pending }) => {
        if (measuring) {
          probes += 1;
          lateness.record(startedAt - runAt);
          if (probeLimit) {
            probeStarts.push(startedAt);
            probeDues.push(runAt);
          }
        }
        if (options.probeLatency > 0) await sleep(options.probeLatency);
        return pending();
      },
      worker: { concurrency: options.concurrency, retention: false },
    },
    { maxPayloadBytes: 256 * 1024 },
  );
  let storeErrors = 0;
  check.worker!.on("error", () => (storeErrors += 1));
  await check.probeRateKept;

  // Ramp: start the checks evenly over the ramp, in slices of 10 ms.
  note(`starting ${options.checks} checks over ${formatNumber(rampMsPlanned / 1000, 1)} s (${options.store} store)`);
  const slices = Math.max(1, Math.floor(rampMsPlanned / 10));
  const rampStart = Date.now();
  let started = 0;
  for (let slice = 0; slice < slices; slice++) {
    const target = Math.round(((slice + 1) * options.checks) / slices);
    const batch: Promise<unknown>[] = [];
    for (; started < target; started++) batch.push(check.start(`order-${started}`, { n: started }));
    await Promise.all(batch);
    if (slice % 1000 === 999) note(`${started} started, ${Math.round((Date.now() - rampStart) / 1000)} s`);
    const wait = rampStart + (slice + 1) * 10 - Date.now();
    if (wait > 0) await sleep(wait);
  }
  const rampMs = Date.now() - rampStart;
  note(`started in ${rampMs} ms; warming up for ${formatNumber(warmUpMs / 1000, 1)} s`);
  await sleep(warmUpMs);

  note(`measuring for ${options.measure}`);
  measuring = true;
  const loadBefore = loadavg()[0]!;
  const noise = new ThreadNoise();
  const cpuStart = process.cpuUsage();
  const measureStart = Date.now();
  let last = 0;
  while (Date.now() - measureStart < measureMs) {
    await sleep(1_000);
    perSecond.push(probes - last);
    last = probes;
    if (perSecond.length % 10 === 0) {
      note(`${perSecond.length} s measured, ${formatNumber(probes)} probes, load ${loadavg()[0]!.toFixed(1)}`);
    }
  }
  measuring = false;
  const machineNoise = await noise.stop();
  const elapsedMs = Date.now() - measureStart;
  // Other processes on the machine take CPU from this one: the load average says how many.
  const loadAverage = [loadBefore, loadavg()[0]!].map((l) => Math.round(l * 10) / 10);
  const cpu = process.cpuUsage(cpuStart);
  const heapUsed = process.memoryUsage().heapUsed;
  const counts = await bench.store.counts(check.queueName);
  const footprint = await bench.footprint();

  await check.close();
  await bench.store.close();
  rss.stop();
  await bench.cleanup();

  const steady = perSecond.slice(1, -1); // whole seconds inside the window
  const limited = probeLimit ? probeLimitFigures(probeStarts, probeDues, probeLimit) : null;
  const result = {
    machine: await describeMachine(null),
    store: options.store,
    group: options.group ?? null,
    checks: options.checks,
    every: options.every,
    concurrency: options.concurrency,
    probeLatencyMs: options.probeLatency,
    rampMs,
    measuredMs: elapsedMs,
    probes,
    probesPerSecond: Math.round((probes / elapsedMs) * 1000),
    expectedPerSecond: Math.round((options.checks / everyMs) * 1000),
    slowestSecond: Math.min(...steady),
    fastestSecond: Math.max(...steady),
    lateness: lateness.summary(),
    machineNoise,
    cpuPercent: Math.round(((cpu.user + cpu.system) / 1000 / elapsedMs) * 100),
    // CPU time per probe holds steady when other processes take the CPUs; wall-clock rates do not.
    cpuMicrosPerProbe: Math.round(((cpu.user + cpu.system) / probes) * 10) / 10,
    probesPerCpuSecond: Math.round(probes / ((cpu.user + cpu.system) / 1e6)),
    peakRssMB: Math.round(rss.peak / MB),
    baselineRssMB: Math.round(baselineRss / MB),
    rssBytesPerCheck: Math.round((rss.peak - baselineRss) / options.checks),
    storeBytesPerCheck: storeBytesPerCheck(footprintBefore, footprint, options.checks),
    heapUsedMB: Math.round(heapUsed / MB),
    storeFootprint: footprint,
    jobs: counts,
    storeErrors,
    loadAverage,
    perSecond,
    probeLimit: limited,
  };
  if (options.json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  const l = result.lateness;
  console.log(`| store | checks | interval | probes/s (expected) | slowest/fastest second | lateness p50 / p95 / p99 / max | machine timer noise p50 / p99 / max | early | CPU | probes per CPU-second | peak RSS | heap |
|---|---|---|---|---|---|---|---|---|---|---|---|
| ${result.store} | ${result.checks} | ${result.every} | ${result.probesPerSecond} (${result.expectedPerSecond}) | ${result.slowestSecond} / ${result.fastestSecond} | ${l.p50} / ${l.p95} / ${l.p99} / ${l.max} ms | ${machineNoise.p50} / ${machineNoise.p99} / ${machineNoise.max} ms | ${l.early} | ${result.cpuPercent}% | ${result.probesPerCpuSecond} | ${result.peakRssMB} MB | ${result.heapUsedMB} MB |`);
  console.log(
    `\nper check: ${result.rssBytesPerCheck} B of process RSS over the ${result.baselineRssMB} MB baseline; store: ${JSON.stringify(result.storeBytesPerCheck)}; ramp ${rampMs} ms`,
  );
  if (limited) console.log(`\n${describeLimit(limited)}`);
  console.log(
    `\n${result.machine.cpus} CPUs (${result.machine.cpuModel}), Node ${result.machine.node}, load average ${loadAverage.join(" → ")}; ${result.probes} probes in ${result.measuredMs} ms; store: ${JSON.stringify(result.storeFootprint)}; jobs: ${JSON.stringify(result.jobs)}; store errors: ${storeErrors}`,
  );
}

interface ProbeLimitFigures {
  limit: { rate: number; perMs: number };
  /** Probes per window of the limit's interval, on the store's clock, from the window's first probe. */
  windows: WindowReport;
  /** The same per 1-s window, the unit of a gateway's quota (for a limit per 1 s, the same as `windows`). */
  perSecond: WindowReport;
  /** Windows with more probes than the rate, and their positions (0: the first). */
  windowsAboveRate: { index: number; probes: number }[];
  /** Lateness the quota alone forces on the same probes (a bucket full at the first). */
  quotaLateness: LatenessSummary;
  /** Each probe's lateness minus what the quota forced on its place in due order: what the engine added. */
  beyondQuota: LatenessSummary;
}

function probeLimitFigures(
  starts: number[],
  dues: number[],
  limit: { rate: number; perMs: number },
): ProbeLimitFigures | null {
  if (starts.length === 0) return null;
  const from = Math.min(...starts);
  const windows = Math.floor((Math.max(...starts) - from) / limit.perMs);
  const report = startsPerWindow(starts, { from, windows, windowMs: limit.perMs, rate: limit.rate });
  const perSecond = startsPerWindow(starts, {
    from,
    windows: Math.floor((Math.max(...starts) - from) / 1_000),
    windowMs: 1_000,
    rate: (limit.rate * 1_000) / limit.perMs,
  });
  const forced = quotaLateness(dues, { ...limit, bucket: limit.rate });
  const forcedRecorder = new LatenessRecorder();
  for (const ms of forced) forcedRecorder.record(ms);
  // Probes in due order (ties by start), paired with the forced lateness of the same place.
  const order = dues.map((_, i) => i).sort((a, b) => dues[a]! - dues[b]! || starts[a]! - starts[b]!);
  const beyond = new LatenessRecorder();
  for (const [place, probe] of order.entries()) beyond.record(starts[probe]! - dues[probe]! - forced[place]!);
  return {
    limit,
    windows: report,
    perSecond,
    windowsAboveRate: report.perWindow.map((probes, index) => ({ index, probes })).filter((w) => w.probes > limit.rate),
    quotaLateness: forcedRecorder.summary(),
    beyondQuota: beyond.summary(),
  };
}

function describeLimit(figures: ProbeLimitFigures): string {
  const { limit, windows: w, quotaLateness: q, beyondQuota: b, perSecond: s } = figures;
  const above = figures.windowsAboveRate;
  return [
    `per 1-s window: ${s.perWindow.length} whole windows, steady mean ${formatNumber(s.steadyMean, 1)}, ` +
      `min / max ${s.steadyMin} / ${s.steadyMax}, first ${s.perWindow[0]}, busiest anywhere ${s.slidingMax}, after the first second ${s.steadySlidingMax}`,
    `probe rate limit ${limit.rate} per ${limit.perMs} ms: ${w.perWindow.length} whole windows, ` +
      `steady mean ${formatNumber(w.steadyMean, 1)}, min / max ${w.steadyMin} / ${w.steadyMax}, first ${w.perWindow[0]}`,
    `busiest window anywhere ${w.slidingMax} (bound: rate + bucket = ${limit.rate * 2}); burst above refill ${formatNumber(w.burst, 1)} (bound: bucket ${limit.rate})`,
    `windows above the rate: ${above.length === 0 ? "none" : above.map((a) => `#${a.index}: ${a.probes}`).join(", ")}`,
    `lateness the quota alone forces p50 / p95 / p99 / max: ${q.p50} / ${q.p95} / ${q.p99} / ${q.max} ms`,
    `lateness beyond it (each probe against its place in due order) p50 / p95 / p99 / max: ${b.p50} / ${b.p95} / ${b.p99} / ${b.max} ms (${b.early} earlier than the quota's schedule)`,
  ].join("\n");
}

/** Growth of each numeric footprint figure (database file, Redis memory), per check. */
function storeBytesPerCheck(before: Footprint, after: Footprint, checks: number): Record<string, number> {
  const perCheck: Record<string, number> = {};
  const start = before as Record<string, unknown>;
  for (const [key, value] of Object.entries(after)) {
    if (typeof value === "number" && key.endsWith("Bytes")) {
      perCheck[key] = Math.round((value - ((start[key] as number | undefined) ?? 0)) / checks);
    }
  }
  return perCheck;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
