import type { CheckbackClient, SweepStatus } from "@checkback/client";
import { parseDuration } from "checkback";
import { formatDuration } from "checkback/internal";
import { type Command, Option } from "commander";
import { boundedIntArg, durationArg } from "../args.js";
import { contextOf } from "../context.js";
import { formatInstant, table } from "../output.js";
import { startSweepProgress } from "../sweep-progress.js";

/** Sweeps defined on the server: list them, start and cancel runs, watch a run's progress. */
export function registerSweeps(program: Command): void {
  const sweeps = program.command("sweeps").description("sweeps: paged scans over your records, run by the server");

  sweeps
    .command("list")
    .description("the sweeps the server knows, each with its newest run")
    .addHelpText("after", `\n--json prints { "sweeps": [{ "name", "state", "run", "retrying", "dead" }] }.`)
    .action(async (_options: unknown, command: Command) => {
      const { client, out } = contextOf(command);
      const answer = await client.sweeps();
      out.result(answer, () => (answer.sweeps.length === 0 ? "(no sweeps)" : sweepTable(answer.sweeps)));
    });

  sweeps
    .command("start")
    .description("start a run (or show the one going); a run after a failed one resumes from its cursor")
    .argument("<name>", "sweep name")
    .option("--restart", "start from the beginning even after a failed run")
    .addHelpText("after", `\n--json prints the run, with "created": false when one was already going.`)
    .action(async (name: string, options: { restart?: boolean }, command: Command) => {
      const { client, out } = contextOf(command);
      const run = await client.startSweep(name, options.restart ? { restart: true } : {});
      out.result(run, () =>
        run.created
          ? `started run ${run.id} of sweep ${name}${run.resumedFrom ? ` (resuming at cursor ${JSON.stringify(run.cursor)})` : ""}`
          : `run ${run.id} of sweep ${name} is already going (${run.items} items so far)`,
      );
    });

  sweeps
    .command("cancel")
    .description("cancel the running run (the page in flight is not checkpointed)")
    .argument("<name>", "sweep name")
    .addHelpText("after", `\n--json prints { "cancelled": true | false }.`)
    .action(async (name: string, _options: unknown, command: Command) => {
      const { client, out } = contextOf(command);
      const answer = await client.cancelSweep(name);
      out.result(answer, () =>
        answer.cancelled ? `cancelled the run of sweep ${name}` : `no run of sweep ${name} was going`,
      );
    });

  sweeps
    .command("status")
    .description("a sweep's newest run: pages, items, failed, rate, ETA; --watch follows it to the end")
    .argument("<name>", "sweep name")
    .option("-w, --watch", "follow the run with a progress bar (on stderr) until it ends")
    .addOption(new Option("--interval <duration>", "how often --watch asks").argParser(durationArg).default("1s"))
    .option("--progress", "draw the bar even when stderr is not a terminal")
    .option("--no-progress", "never draw the bar")
    .addHelpText(
      "after",
      `
--json prints the status ({ "name", "state", "run", "retrying", "dead" }); with --watch, the
final one. The command exits 0 whatever the run's state; --watch exits once it is not running.

Examples:
  $ checkback sweeps status nightly-reminders
  $ checkback sweeps status nightly-reminders --watch`,
    )
    .action(
      async (
        name: string,
        options: { watch?: boolean; interval: string | number; progress?: boolean },
        command: Command,
      ) => {
        const { client, out } = contextOf(command);
        const status = options.watch
          ? await watch(client, name, intervalMs(options.interval), options.progress)
          : await client.sweepStatus(name);
        out.result(status, () => statusText(status));
      },
    );

  sweeps
    .command("runs")
    .description("a sweep's run history, newest first")
    .argument("<name>", "sweep name")
    .addOption(new Option("-n, --limit <n>", "runs to show (1–1000)").argParser(boundedIntArg(1000)).default(20))
    .addHelpText("after", `\n--json prints { "runs": [...] }.`)
    .action(async (name: string, options: { limit: number }, command: Command) => {
      const { client, out } = contextOf(command);
      const answer = await client.sweepRuns(name, options.limit);
      out.result(answer, () =>
        answer.runs.length === 0
          ? "(no runs)"
          : table(
              ["RUN", "STATE", "STARTED", "DURATION", "PAGES", "ITEMS", "FAILED", "ERROR"],
              answer.runs.map((run) => [
                run.id,
                run.state,
                new Date(run.startedAt).toISOString(),
                formatDuration(run.durationMs),
                String(run.pages),
                String(run.items),
                String(run.failed),
                run.error ?? "-",
              ]),
            ),
      );
    });
}

function intervalMs(value: string | number): number {
  return parseDuration(value, "interval");
}

/** Polls the status until the run is no longer going, drawing its progress. */
async function watch(client: CheckbackClient, name: string, everyMs: number, wanted: boolean | undefined) {
  const bar = startSweepProgress(name, wanted);
  try {
    for (;;) {
      const status = await client.sweepStatus(name);
      bar.update(status);
      if (status.state !== "running") return status;
      await new Promise((resolve) => setTimeout(resolve, Math.max(50, everyMs)));
    }
  } finally {
    bar.stop();
  }
}

function sweepTable(sweeps: SweepStatus[]): string {
  return table(
    ["SWEEP", "STATE", "PAGES", "ITEMS", "FAILED", "RETRYING", "DEAD"],
    sweeps.map((s) => [
      s.name,
      s.state,
      String(s.run?.pages ?? 0),
      s.run ? `${s.run.items}${s.run.total === null ? "" : `/${s.run.total}`}` : "0",
      String(s.run?.failed ?? 0),
      String(s.retrying),
      String(s.dead),
    ]),
  );
}

function statusText(status: SweepStatus): string {
  const { run } = status;
  if (!run) return `sweep ${status.name}: idle (no run yet)`;
  const lines = [
    `sweep ${status.name}: ${status.state}`,
    `run        ${run.id}${run.resumedFrom ? ` (resumed from ${run.resumedFrom})` : ""}`,
    `started    ${formatInstant(run.startedAt)}`,
  ];
  if (run.finishedAt !== null)
    lines.push(`finished   ${formatInstant(run.finishedAt)} (took ${formatDuration(run.durationMs)})`);
  lines.push(
    `progress   ${run.pages} pages, ${run.items}${run.total === null ? "" : `/${run.total}`} items, ${run.failed} failed, ${run.rate}/s` +
      (run.etaMs === null ? "" : `, ETA ${formatDuration(run.etaMs)}`),
  );
  if (run.cursor !== null) lines.push(`cursor     ${JSON.stringify(run.cursor)}`);
  if (run.error !== null) lines.push(`last error ${run.error}`);
  lines.push(`items      ${status.retrying} waiting for a retry, ${status.dead} dead`);
  return lines.join("\n");
}
