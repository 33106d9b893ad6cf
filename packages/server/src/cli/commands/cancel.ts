import type { Command } from "commander";
import { contextOf } from "../context.js";
import { jobRefOf, queueOption } from "./common.js";

export function registerCancel(program: Command): void {
  program
    .command("cancel")
    .description("cancel a scheduled or active job, by id or by business key")
    .argument("[id]", "job id")
    .addOption(queueOption())
    .option("-k, --key <key>", "name the job by its business key instead of its id")
    .addHelpText(
      "after",
      `
A job that has already finished is left as it is; the command says so and still exits 0.
--json prints { "cancelled": true | false }.

Examples:
  $ checkback cancel -q orders 01JD3V9Q4B7X2K
  $ checkback cancel -q orders --key order-42`,
    )
    .action(async (id: string | undefined, options: { queue: string; key?: string }, command: Command) => {
      const ref = jobRefOf(command, id, options.key);
      const { client, out } = contextOf(command);
      const answer = await client.cancel(options.queue, ref);
      const name = "id" in ref ? `job ${ref.id}` : `the job with key ${JSON.stringify(ref.key)}`;
      out.result(answer, () =>
        answer.cancelled ? `cancelled ${name}` : `${name} had already finished; nothing changed`,
      );
    });
}
