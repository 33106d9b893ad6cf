import type { ApiSchedule, ScheduleInput } from "@checkback/client";
import { type Command, Option } from "commander";
import { backoffArg, boundedIntArg, durationArg, instantArg, jsonArg, positiveIntArg } from "../args.js";
import { contextOf, usageError } from "../context.js";
import { formatInstant, jobDetails, table } from "../output.js";
import { queueOption } from "./common.js";

interface AddOptions {
  queue: string;
  cron?: string;
  timezone?: string;
  every?: string | number;
  payload?: string;
  start?: number;
  end?: number;
  missed?: "skip" | "latest" | "all";
  maxMissed?: number;
  attempts?: number;
  backoff?: unknown;
}

/** Schedules: cron or interval timetables whose firings are jobs in a queue. */
export function registerSchedules(program: Command): void {
  const schedules = program
    .command("schedules")
    .description("schedules: list (with next firings), add, pause, resume, remove, trigger");

  schedules
    .command("list")
    .description("every schedule with its next firings")
    .addOption(new Option("-n, --next <n>", "next firings to show (0–100)").argParser(boundedIntArg(100)).default(3))
    .addHelpText("after", `\n--json prints { "schedules": [...] } with next firings as epoch ms.`)
    .action(async (options: { next: number }, command: Command) => {
      const { client, out } = contextOf(command);
      const answer = await client.schedules({ next: options.next });
      out.result(answer, () => scheduleTable(answer.schedules));
    });

  schedules
    .command("add")
    .description("define a schedule (or update it: a changed timetable takes effect from its next tick)")
    .argument("<name>", "schedule name")
    .addOption(queueOption())
    .option("--cron <expression>", 'cron expression, 5–7 fields (seconds first when 6), e.g. "0 30 2 * * *"')
    .option("--timezone <zone>", "IANA time zone of the cron expression (default UTC)")
    .addOption(new Option("--every <duration>", "a fixed interval instead, at least 1s").argParser(durationArg))
    .option("--payload <json>", "what every firing carries (JSON)")
    .addOption(new Option("--start <instant>", "no tick before: ISO date or epoch ms").argParser(instantArg))
    .addOption(new Option("--end <instant>", "no tick after: ISO date or epoch ms").argParser(instantArg))
    .addOption(
      new Option("--missed <policy>", "ticks missed while no process ran (default latest)").choices([
        "skip",
        "latest",
        "all",
      ]),
    )
    .addOption(
      new Option("--max-missed <n>", "with --missed all: at most this many (1–1000)").argParser(positiveIntArg),
    )
    .addOption(new Option("--attempts <n>", "attempts of each firing job").argParser(positiveIntArg))
    .addOption(new Option("--backoff <backoff>", "retry back-off of each firing job").argParser(backoffArg))
    .addHelpText(
      "after",
      `
Each firing is a job in the queue, keyed "<name>@<tick>", carrying
{ schedule, tick, kind, payload }. Adding the same definition again changes nothing.

Examples:
  $ checkback schedules add nightly-report -q reports --cron "0 30 2 * * *" --timezone Europe/Berlin
  $ checkback schedules add unpaid-scan -q scans --every 20s --missed skip --payload '{"older":"30m"}'`,
    )
    .action(async (name: string, options: AddOptions, command: Command) => {
      const { client, out } = contextOf(command);
      if ((options.cron === undefined) === (options.every === undefined))
        usageError(command, "give --cron or --every (one of them)");
      const definition: ScheduleInput = { queue: options.queue };
      if (options.cron !== undefined) definition.cron = options.cron;
      if (options.timezone !== undefined) definition.timezone = options.timezone;
      if (options.every !== undefined) definition.every = options.every;
      if (options.payload !== undefined) definition.payload = payloadOrUsage(command, options.payload);
      if (options.start !== undefined) definition.start = options.start;
      if (options.end !== undefined) definition.end = options.end;
      if (options.missed !== undefined) definition.missed = options.missed;
      if (options.maxMissed !== undefined) definition.maxMissed = options.maxMissed;
      if (options.attempts !== undefined) definition.attempts = options.attempts;
      if (options.backoff !== undefined) definition.backoff = options.backoff;
      const defined = await client.defineSchedule(name, definition);
      out.result(defined, () => `${defined.outcome} schedule ${name}\n${scheduleDetails(defined)}`);
    });

  for (const action of ["pause", "resume"] as const) {
    schedules
      .command(action)
      .description(action === "pause" ? "pause a schedule (no firings until resumed)" : "resume a paused schedule")
      .argument("<name>", "schedule name")
      .action(async (name: string, _options: unknown, command: Command) => {
        const { client, out } = contextOf(command);
        const answer = action === "pause" ? await client.pauseSchedule(name) : await client.resumeSchedule(name);
        out.result(answer, () => `schedule ${name} is ${answer.state}\n${scheduleDetails(answer)}`);
      });
  }

  schedules
    .command("remove")
    .description("remove a schedule; the firing waiting for its next tick is withdrawn")
    .argument("<name>", "schedule name")
    .action(async (name: string, _options: unknown, command: Command) => {
      const { client, out } = contextOf(command);
      const answer = await client.removeSchedule(name);
      out.result(answer, () => `removed schedule ${name}`);
    });

  schedules
    .command("trigger")
    .description("fire a schedule now, besides its timetable")
    .argument("<name>", "schedule name")
    .option("--payload <json>", "this firing's payload (default: the schedule's)")
    .action(async (name: string, options: { payload?: string }, command: Command) => {
      const { client, out } = contextOf(command);
      const payload = options.payload === undefined ? undefined : payloadOrUsage(command, options.payload);
      const firing = await client.triggerSchedule(name, payload);
      out.result(firing, () => jobDetails(firing));
    });
}

function scheduleTable(schedules: ApiSchedule[], now = Date.now()): string {
  if (schedules.length === 0) return "(no schedules)";
  return table(
    ["NAME", "STATE", "TIMETABLE", "QUEUE", "NEXT FIRINGS"],
    schedules.map((s) => [
      s.name,
      s.state,
      timetableText(s),
      s.definition.queue,
      s.next.length === 0 ? "-" : s.next.map((t) => formatInstant(t, now)).join(", "),
    ]),
  );
}

function scheduleDetails(schedule: ApiSchedule, now = Date.now()): string {
  const lines = [
    `  timetable  ${timetableText(schedule)}`,
    `  queue      ${schedule.definition.queue}`,
    `  missed     ${schedule.definition.missed}`,
  ];
  for (const tick of schedule.next) lines.push(`  next       ${formatInstant(tick, now)}`);
  return lines.join("\n");
}

function timetableText({ definition }: ApiSchedule): string {
  return definition.cron !== null
    ? `cron "${definition.cron}" ${definition.timezone ?? "UTC"}`
    : `every ${definition.everyMs}ms`;
}

function payloadOrUsage(command: Command, text: string): unknown {
  try {
    return jsonArg(text);
  } catch (error) {
    return usageError(command, `payload is ${(error as Error).message}`);
  }
}
