import type { Counts } from "@checkback/client";
import { JOB_STATES } from "checkback/internal";
import type { Command } from "commander";
import { queueArg } from "../args.js";
import { contextOf } from "../context.js";
import { table } from "../output.js";

export function registerStats(program: Command): void {
  program
    .command("stats")
    .description("job counts per state, for one queue or every queue")
    .option("-q, --queue <name>", "only this queue", queueArg)
    .addHelpText(
      "after",
      `
--json prints the queue's counts ({ "scheduled": n, ... }), or without --queue
{ "queues": [{ "name", "counts" }] }.

Examples:
  $ checkback stats
  $ checkback stats -q orders --json`,
    )
    .action(async (options: { queue?: string }, command: Command) => {
      const { client, out } = contextOf(command);
      if (options.queue !== undefined) {
        const counts = await client.counts(options.queue);
        out.result(counts, () => countsTable([{ name: options.queue!, counts }]));
        return;
      }
      const answer = await client.queues();
      out.result(answer, () => (answer.queues.length === 0 ? "(no queues)" : countsTable(answer.queues)));
    });
}

function countsTable(queues: { name: string; counts: Counts }[]): string {
  return table(
    ["QUEUE", ...JOB_STATES.map((state) => state.toUpperCase())],
    queues.map(({ name, counts }) => [name, ...JOB_STATES.map((state) => String(counts[state] ?? 0))]),
  );
}
