import type { Command } from "commander";
import { contextOf } from "../context.js";
import { jobDetails } from "../output.js";
import { jobRefOf, queueOption } from "./common.js";

export function registerGet(program: Command): void {
  program
    .command("get")
    .description("show one job, by id or by business key")
    .argument("[id]", "job id")
    .addOption(queueOption())
    .option("-k, --key <key>", "find the job by its business key instead of its id")
    .addHelpText(
      "after",
      `
Examples:
  $ checkback get -q orders 01JD3V9Q4B7X2K
  $ checkback get -q orders --key order-42 --json`,
    )
    .action(async (id: string | undefined, options: { queue: string; key?: string }, command: Command) => {
      const ref = jobRefOf(command, id, options.key);
      const { client, out } = contextOf(command);
      const job = await client.get(options.queue, ref);
      out.result(job, () => jobDetails(job));
    });
}
