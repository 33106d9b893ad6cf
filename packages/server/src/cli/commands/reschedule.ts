import type { Command } from "commander";
import { contextOf, usageError } from "../context.js";
import { jobDetails } from "../output.js";
import { addWhenOptions, jobRefOf, queueOption, whenOf } from "./common.js";

interface RescheduleOptions {
  queue: string;
  key?: string;
  delay?: string | number;
  runAt?: number;
}

export function registerReschedule(program: Command): void {
  const command = program
    .command("reschedule")
    .description("move a scheduled job to a new due time, by id or by business key")
    .argument("[id]", "job id")
    .addOption(queueOption())
    .option("-k, --key <key>", "name the job by its business key instead of its id");
  addWhenOptions(command, "run it")
    .addHelpText(
      "after",
      `
Give exactly one of --delay or --run-at. Only scheduled jobs can be rescheduled.

Examples:
  $ checkback reschedule -q orders 01JD3V9Q4B7X2K --delay 10m
  $ checkback reschedule -q orders --key order-42 --run-at 2026-12-01T09:00:00Z`,
    )
    .action(async (id: string | undefined, options: RescheduleOptions, command: Command) => {
      const ref = jobRefOf(command, id, options.key);
      if (options.delay === undefined && options.runAt === undefined) {
        usageError(command, "say when: --delay <duration> or --run-at <instant>");
      }
      const { client, out } = contextOf(command);
      const job = await client.reschedule(options.queue, ref, whenOf(options));
      out.result(job, () => jobDetails(job));
    });
}
