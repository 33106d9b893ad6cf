import type { JobState } from "checkback";
import { type Command, Option } from "commander";
import { boundedIntArg, stateArg } from "../args.js";
import { contextOf } from "../context.js";
import { jobTable } from "../output.js";
import { queueOption } from "./common.js";

interface LsOptions {
  queue: string;
  state: JobState;
  limit: number;
  cursor?: string;
}

export function registerLs(program: Command): void {
  program
    .command("ls")
    .description("list a queue's jobs in one state, oldest first, a page at a time")
    .addOption(queueOption())
    .addOption(
      new Option("-s, --state <state>", "scheduled, active, completed, dead or cancelled")
        .argParser(stateArg)
        .default("scheduled"),
    )
    .addOption(new Option("-n, --limit <n>", "jobs per page (1–1000)").argParser(boundedIntArg(1000)).default(50))
    .option("--cursor <cursor>", "continue from a previous page's cursor")
    .addHelpText(
      "after",
      `
--json prints { "jobs": [...], "next": <cursor or null> }.

Examples:
  $ checkback ls -q orders
  $ checkback ls -q orders --state dead --limit 100 --json`,
    )
    .action(async (options: LsOptions, command: Command) => {
      const { client, out } = contextOf(command);
      const page = await client.list(options.queue, options.state, { limit: options.limit, cursor: options.cursor });
      out.result(page, () => jobTable(page.jobs));
      if (page.next) {
        out.note(
          `more: checkback ls -q ${options.queue} --state ${options.state} --limit ${options.limit} --cursor ${page.next}`,
        );
      }
    });
}
