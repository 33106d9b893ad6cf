import type { CheckbackClient, WhenBody } from "@checkback/client";
import { type Command, Option } from "commander";
import { boundedIntArg } from "../args.js";
import { contextOf, usageError } from "../context.js";
import { jobTable } from "../output.js";
import { startProgress } from "../progress.js";
import { addWhenOptions, queueOption, whenOf } from "./common.js";

/** Dead letters: jobs whose attempts ran out, kept for a person to inspect, redrive or purge. */
export function registerDead(program: Command): void {
  const dead = program.command("dead").description("dead letters: list, redrive or purge jobs whose attempts ran out");

  dead
    .command("ls")
    .description("list dead jobs, oldest first, a page at a time")
    .addOption(queueOption())
    .addOption(new Option("-n, --limit <n>", "jobs per page (1–1000)").argParser(boundedIntArg(1000)).default(50))
    .option("--cursor <cursor>", "continue from a previous page's cursor")
    .addHelpText("after", `\n--json prints { "jobs": [...], "next": <cursor or null> }.`)
    .action(async (options: { queue: string; limit: number; cursor?: string }, command: Command) => {
      const { client, out } = contextOf(command);
      const page = await client.listDead(options.queue, { limit: options.limit, cursor: options.cursor });
      out.result(page, () => jobTable(page.jobs));
      if (page.next)
        out.note(`more: checkback dead ls -q ${options.queue} --limit ${options.limit} --cursor ${page.next}`);
    });

  const redrive = dead
    .command("redrive")
    .description("send dead jobs back to scheduled, with their attempts reset")
    .argument("[ids...]", "dead job ids")
    .addOption(queueOption())
    .option("--all", "every dead job in the queue")
    .addOption(
      new Option("--batch-size <n>", "jobs per request with --all (1–1000)")
        .argParser(boundedIntArg(1000))
        .default(500),
    )
    .option("--progress", "show a progress bar even when stderr is not a terminal")
    .option("--no-progress", "never show a progress bar");
  addWhenOptions(redrive, "run them")
    .addHelpText(
      "after",
      `
Without --delay or --run-at the jobs are due at once. A dead job whose key is now held by
another unfinished job stays dead. --json prints { "redriven": n }.

Examples:
  $ checkback dead redrive -q orders 01JD3V9Q4B7X2K 01JD3V9R0M1C8Z
  $ checkback dead redrive -q orders --all --delay 5m`,
    )
    .action(async (ids: string[], options: RedriveOptions, command: Command) => {
      const selection = selectionOf(command, ids, options.all);
      const { client, out } = contextOf(command);
      const when = whenOf(options);
      const redriven =
        selection === "all"
          ? await redriveAll(client, options.queue, when, options.batchSize, options.progress)
          : (await client.redrive(options.queue, { ids: selection }, when)).redriven;
      out.result({ redriven }, () => `redrove ${redriven} dead job${redriven === 1 ? "" : "s"} in ${options.queue}`);
    });

  dead
    .command("purge")
    .description("delete dead jobs for good")
    .argument("[ids...]", "dead job ids")
    .addOption(queueOption())
    .option("--all", "every dead job in the queue")
    .option("-y, --yes", "confirm --all (it cannot be undone)")
    .addHelpText(
      "after",
      `
--json prints { "purged": n }.

Examples:
  $ checkback dead purge -q orders 01JD3V9Q4B7X2K
  $ checkback dead purge -q orders --all --yes`,
    )
    .action(async (ids: string[], options: { queue: string; all?: boolean; yes?: boolean }, command: Command) => {
      const selection = selectionOf(command, ids, options.all);
      if (selection === "all" && !options.yes) {
        usageError(command, "--all deletes every dead job in the queue for good; add --yes to confirm");
      }
      const { client, out } = contextOf(command);
      const { purged } = await client.purge(options.queue, selection === "all" ? { all: true } : { ids: selection });
      out.result({ purged }, () => `purged ${purged} dead job${purged === 1 ? "" : "s"} from ${options.queue}`);
    });
}

interface RedriveOptions {
  queue: string;
  all?: boolean;
  batchSize: number;
  progress?: boolean;
  delay?: string | number;
  runAt?: number;
}

function selectionOf(command: Command, ids: string[], all: boolean | undefined): string[] | "all" {
  if (all && ids.length > 0) usageError(command, "give job ids or --all, not both");
  if (all) return "all";
  if (ids.length === 0) usageError(command, "say which dead jobs: give their ids, or --all");
  return ids;
}

/**
 * Redrives dead letters a page at a time, so a large dead-letter queue shows progress and no
 * single request runs long. Pages are keyset-ordered (a cursor is the last job seen), so jobs
 * that leave the dead list as we go do not shift later pages, and a job that dies again while
 * we run keeps its place behind the cursor and is not redriven twice. The count taken at the
 * start bounds the work.
 */
async function redriveAll(
  client: CheckbackClient,
  queue: string,
  when: WhenBody,
  batchSize: number,
  progressWanted: boolean | undefined,
): Promise<number> {
  const { dead: total } = await client.counts(queue);
  if (total === 0) return 0;
  const progress = startProgress("redrive", total, progressWanted);
  let seen = 0;
  let redriven = 0;
  let cursor: string | null = null;
  try {
    do {
      const page = await client.listDead(queue, { limit: Math.min(batchSize, total - seen), cursor });
      if (page.jobs.length === 0) break;
      // A job whose key another unfinished job now holds stays dead: counted as seen, not redriven.
      const answer = await client.redrive(queue, { ids: page.jobs.map((job) => job.id) }, when);
      seen += page.jobs.length;
      redriven += answer.redriven;
      progress.advance(page.jobs.length);
      cursor = page.next;
    } while (cursor !== null && seen < total);
  } finally {
    progress.stop();
  }
  return redriven;
}
