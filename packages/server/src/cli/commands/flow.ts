import type { FlowSettings } from "@checkback/client";
import { type Command, Option } from "commander";
import { durationArg, positiveIntArg } from "../args.js";
import { contextOf, usageError } from "../context.js";
import { formatInstant } from "../output.js";
import { addWhenOptions, queueOption } from "./common.js";

interface LimitOptions {
  queue: string;
  rate?: number;
  per?: string | number;
  off?: boolean;
}

interface PauseOptions {
  queue: string;
  delay?: string | number;
  runAt?: number;
}

/** Flow control of a queue (docs/flow-control.md): limit, pause, resume. */
export function registerFlow(program: Command): void {
  program
    .command("limit")
    .description("set or lift a queue's rate limit (starts per interval, across every worker)")
    .addOption(queueOption())
    .addOption(new Option("--rate <n>", "job starts allowed per interval (1–1000000)").argParser(positiveIntArg))
    .addOption(new Option("--per <duration>", "the interval, e.g. 1s, 1m (default 1s)").argParser(durationArg))
    .addOption(new Option("--off", "lift the limit").conflicts(["rate", "per"]))
    .addHelpText(
      "after",
      `
Prints the queue's flow settings afterwards (--json: { limit, pausedUntil, tokens }).

Examples:
  $ checkback limit -q gateway-queries --rate 100 --per 1s
  $ checkback limit -q gateway-queries --off`,
    )
    .action(async (options: LimitOptions, command: Command) => {
      if (!options.off && options.rate === undefined) usageError(command, "give --rate <n> (with --per), or --off");
      const { client, out } = contextOf(command);
      const flow = await client.limit(
        options.queue,
        options.off ? null : { rate: options.rate!, per: options.per ?? "1s" },
      );
      out.result(flow, () => describeFlow(options.queue, flow));
    });

  const pause = program
    .command("pause")
    .description("start none of a queue's jobs for a while (the other side said slow down)")
    .addOption(queueOption());
  addWhenOptions(pause, "start again")
    .addOption(new Option("--for <duration>", "pause for this long, e.g. 30s (same as --delay)").argParser(durationArg))
    .addHelpText(
      "after",
      `
Give one of --for, --delay or --run-at. Jobs stay scheduled and keep their place.

Examples:
  $ checkback pause -q gateway-queries --for 30s
  $ checkback pause -q gateway-queries --run-at 2026-12-01T09:00:00Z`,
    )
    .action(async (options: PauseOptions & { for?: string | number }, command: Command) => {
      const delay = options.for ?? options.delay;
      const given = [options.for, options.delay, options.runAt].filter((v) => v !== undefined).length;
      if (given !== 1) usageError(command, "say until when: one of --for <duration>, --delay or --run-at");
      const { client, out } = contextOf(command);
      const flow = await client.pause(options.queue, delay !== undefined ? { delay } : { runAt: options.runAt! });
      out.result(flow, () => describeFlow(options.queue, flow));
    });

  program
    .command("resume")
    .description("lift a queue's pause")
    .addOption(queueOption())
    .addHelpText("after", "\nExample:\n  $ checkback resume -q gateway-queries")
    .action(async (options: { queue: string }, command: Command) => {
      const { client, out } = contextOf(command);
      const flow = await client.resume(options.queue);
      out.result(flow, () => describeFlow(options.queue, flow));
    });
}

function describeFlow(queue: string, flow: FlowSettings): string {
  const limit = flow.limit ? `${flow.limit.rate} per ${flow.limit.perMs}ms (${flow.tokens} now)` : "none";
  const paused = flow.pausedUntil === null ? "no" : `until ${formatInstant(flow.pausedUntil)}`;
  return `queue:  ${queue}\nlimit:  ${limit}\npaused: ${paused}`;
}
