import type { BusiestGroups, GroupLimits, GroupLimitsInput, GroupState } from "@checkback/client";
import { type Command, Option } from "commander";
import { boundedIntArg, durationArg, positiveIntArg } from "../args.js";
import { contextOf, usageError } from "../context.js";
import { formatInstant, table } from "../output.js";
import { addWhenOptions, queueOption } from "./common.js";

interface GroupLimitOptions {
  queue: string;
  group?: string;
  concurrency?: number;
  rate?: number;
  per?: string | number;
  clear?: boolean;
}

interface GroupPauseOptions {
  queue: string;
  group: string;
  for?: string | number;
  delay?: string | number;
  runAt?: number;
}

/** Groups of a queue (docs/flow-control.md#groups): show, limit, pause, resume. */
export function registerGroups(program: Command): void {
  program
    .command("groups")
    .description("a queue's busiest groups (most active jobs first), or one group with --group")
    .addOption(queueOption())
    .option("-g, --group <group>", "show this group only")
    .addOption(
      new Option("--limit <n>", "most groups to show (1–1000)")
        .argParser(boundedIntArg(1000))
        .default(20)
        .conflicts("group"),
    )
    .addHelpText(
      "after",
      `
--json prints { groups, activeGroups } (each group as GET /v1/queues/:queue/groups/:group
answers it), or with --group that one group.

Examples:
  $ checkback groups -q payments
  $ checkback groups -q payments --group merchant-7`,
    )
    .action(async (options: { queue: string; group?: string; limit: number }, command: Command) => {
      const { client, out } = contextOf(command);
      if (options.group !== undefined) {
        const state = await client.groupState(options.queue, options.group);
        out.result(state, () => describeGroup(options.queue, state));
        return;
      }
      const busiest = await client.busiestGroups(options.queue, options.limit);
      out.result(busiest, () => busiestTable(busiest));
    });

  program
    .command("group-limit")
    .description("limit every group of a queue (its default), or one group with --group")
    .addOption(queueOption())
    .option("-g, --group <group>", "this group's own limits, in place of the queue's default")
    .addOption(
      new Option("--concurrency <k>", "at most k of a group's jobs active at once (1–1000000)").argParser(
        positiveIntArg,
      ),
    )
    .addOption(
      new Option("--rate <n>", "job starts allowed per interval, for each group (1–1000000)").argParser(positiveIntArg),
    )
    .addOption(new Option("--per <duration>", "the interval, e.g. 1s, 1m (default 1s)").argParser(durationArg))
    .addOption(
      new Option(
        "--clear",
        "lift the default; with --group, drop the group's own (it takes the default again)",
      ).conflicts(["concurrency", "rate", "per"]),
    )
    .addHelpText(
      "after",
      `
The limits given replace the ones kept: a limit left out is none. Prints the queue's default
afterwards (--json: { groupLimits }), or with --group the group's state.

Examples:
  $ checkback group-limit -q payments --concurrency 2 --rate 10 --per 1s
  $ checkback group-limit -q payments --group merchant-7 --concurrency 5
  $ checkback group-limit -q payments --group merchant-7 --clear`,
    )
    .action(async (options: GroupLimitOptions, command: Command) => {
      if (options.per !== undefined && options.rate === undefined) usageError(command, "--per goes with --rate <n>");
      if (!options.clear && options.concurrency === undefined && options.rate === undefined) {
        usageError(command, "give --concurrency <k> and/or --rate <n> (with --per), or --clear");
      }
      const limits: GroupLimitsInput | null = options.clear
        ? null
        : {
            ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
            ...(options.rate === undefined ? {} : { rate: { rate: options.rate, per: options.per ?? "1s" } }),
          };
      const { client, out } = contextOf(command);
      if (options.group !== undefined) {
        const state = await client.limitGroup(options.queue, options.group, limits);
        out.result(state, () => describeGroup(options.queue, state));
        return;
      }
      const answer = await client.limitGroups(options.queue, limits);
      out.result(answer, () => `queue:         ${options.queue}\ngroup limits:  ${describeLimits(answer.groupLimits)}`);
    });

  const pause = program
    .command("group-pause")
    .description("start none of one group's jobs for a while (the other side said slow down to it)")
    .addOption(queueOption())
    .addOption(new Option("-g, --group <group>", "the group").makeOptionMandatory());
  addWhenOptions(pause, "start again")
    .addOption(new Option("--for <duration>", "pause for this long, e.g. 30s (same as --delay)").argParser(durationArg))
    .addHelpText(
      "after",
      `
Give one of --for, --delay or --run-at. The group's jobs stay scheduled and keep their place;
the queue's other groups go on.

Examples:
  $ checkback group-pause -q payments --group merchant-7 --for 30s
  $ checkback group-pause -q payments --group merchant-7 --run-at 2026-12-01T09:00:00Z`,
    )
    .action(async (options: GroupPauseOptions, command: Command) => {
      const delay = options.for ?? options.delay;
      const given = [options.for, options.delay, options.runAt].filter((v) => v !== undefined).length;
      if (given !== 1) usageError(command, "say until when: one of --for <duration>, --delay or --run-at");
      const { client, out } = contextOf(command);
      const state = await client.pauseGroup(
        options.queue,
        options.group,
        delay !== undefined ? { delay } : { runAt: options.runAt! },
      );
      out.result(state, () => describeGroup(options.queue, state));
    });

  program
    .command("group-resume")
    .description("lift one group's pause")
    .addOption(queueOption())
    .addOption(new Option("-g, --group <group>", "the group").makeOptionMandatory())
    .addHelpText("after", "\nExample:\n  $ checkback group-resume -q payments --group merchant-7")
    .action(async (options: { queue: string; group: string }, command: Command) => {
      const { client, out } = contextOf(command);
      const state = await client.resumeGroup(options.queue, options.group);
      out.result(state, () => describeGroup(options.queue, state));
    });
}

function describeLimits(limits: GroupLimits | null): string {
  if (limits === null || (limits.concurrency === null && limits.limit === null)) return "none";
  const parts: string[] = [];
  if (limits.concurrency !== null) parts.push(`${limits.concurrency} active at once`);
  if (limits.limit !== null) parts.push(`${limits.limit.rate} per ${limits.limit.perMs}ms`);
  return parts.join(", ");
}

function describeGroup(queue: string, state: GroupState): string {
  const limits = `${describeLimits(state.limits)} (${state.ownLimits ? "its own" : "the queue's default"})`;
  const paused = state.pausedUntil === null ? "no" : `until ${formatInstant(state.pausedUntil)}`;
  return [
    `queue:     ${queue}`,
    `group:     ${state.group}`,
    `limits:    ${limits}`,
    `active:    ${state.active}`,
    `scheduled: ${state.scheduled}`,
    `paused:    ${paused}`,
    ...(state.tokens === null ? [] : [`tokens:    ${state.tokens}`]),
  ].join("\n");
}

function busiestTable(busiest: BusiestGroups): string {
  if (busiest.groups.length === 0) return "(no group has an active job)";
  const rows = busiest.groups.map((g) => [
    g.group,
    String(g.active),
    String(g.scheduled),
    describeLimits(g.limits),
    g.pausedUntil === null ? "-" : formatInstant(g.pausedUntil),
  ]);
  const shown = `${busiest.groups.length} of ${busiest.activeGroups} groups with an active job`;
  return `${table(["GROUP", "ACTIVE", "SCHEDULED", "LIMITS", "PAUSED UNTIL"], rows)}\n${shown}`;
}
