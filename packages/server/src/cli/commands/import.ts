import type { Readable } from "node:stream";
import { type AddedJob, ApiError, type CheckbackClient, type JobInput } from "@checkback/client";
import { type Command, Option } from "commander";
import { boundedIntArg, countArg } from "../args.js";
import { contextOf } from "../context.js";
import { CliError } from "../errors.js";
import { type JobLine, openJobFile, readJobLines } from "../ndjson.js";
import { startProgress } from "../progress.js";
import { addWhenOptions, queueOption, whenOf } from "./common.js";

interface ImportOptions {
  queue: string;
  chunkSize: number;
  skip: number;
  progress?: boolean;
  delay?: string | number;
  runAt?: number;
}

interface ImportSummary {
  queue: string;
  total: number;
  skipped: number;
  imported: number;
  created: number;
  existing: number;
  replaced: number;
  ms: number;
}

const MAX_REPORTED_BAD_LINES = 10;

export function registerImport(program: Command): void {
  const command = program
    .command("import")
    .description("add many jobs from an NDJSON file, in atomic chunks")
    .argument("<file>", "NDJSON file, one job per line; - reads stdin")
    .addOption(queueOption())
    .addOption(
      new Option("--chunk-size <n>", "jobs per bulk request (1–10000)").argParser(boundedIntArg(10_000)).default(500),
    )
    .addOption(new Option("--skip <n>", "skip the first n jobs (to resume an import)").argParser(countArg).default(0))
    .option("--progress", "show a progress bar even when stderr is not a terminal")
    .option("--no-progress", "never show a progress bar");
  addWhenOptions(command, "default for lines without delay or runAt: run")
    .addHelpText(
      "after",
      `
Each line is a JSON object:
  {"payload": {...}, "delay"?: "30s", "runAt"?: <ISO date | epoch ms>, "key"?: "...",
   "replace"?: true, "attempts"?: 5, "backoff"?: "1m" | ["10s","1m"] | {...}, "group"?: "..."}
The whole file is checked before anything is sent; a bad line stops the import with its
line number. Jobs are sent in chunks; each chunk is added atomically, so after a failure
"--skip <n>" resumes exactly where it stopped. --json prints a summary object.

Examples:
  $ checkback import reminders.ndjson -q reminders
  $ gzip -dc jobs.ndjson.gz | checkback import - -q orders --chunk-size 1000 --progress`,
    )
    .action(async (file: string, options: ImportOptions, command: Command) => {
      const { client, out } = contextOf(command);
      const jobs = await loadJobs(file);
      const defaults = whenOf(options);
      const todo = jobs.slice(options.skip).map((line) => withDefaults(line.job, defaults));
      const summary = await sendAll(client, options, todo, jobs.length);
      out.result(summary, () => describeSummary(summary));
    });
}

/**
 * Reads and checks every line before sending any: a typo on line 90,000 should not leave the
 * first 89,999 jobs imported. The jobs are held in memory; at a few hundred bytes each, a
 * million-line file is a few hundred megabytes, which is the scale this command is for.
 */
async function loadJobs(file: string): Promise<JobLine[]> {
  const jobs: JobLine[] = [];
  const bad: string[] = [];
  let input: Readable;
  try {
    input = await openJobFile(file);
  } catch (error) {
    throw new CliError("CANNOT_READ", `cannot read ${file}: ${(error as Error).message}`);
  }
  let badCount = 0;
  for await (const result of readJobLines(input)) {
    if ("error" in result) {
      badCount += 1;
      if (bad.length < MAX_REPORTED_BAD_LINES) bad.push(`  line ${result.line}: ${result.error}`);
    } else {
      jobs.push(result);
    }
  }
  if (badCount > 0) {
    const more = badCount > bad.length ? `\n  … and ${badCount - bad.length} more` : "";
    throw new CliError(
      "INVALID_INPUT",
      `${badCount} bad line${badCount === 1 ? "" : "s"} in ${file === "-" ? "stdin" : file}; nothing was imported\n${bad.join("\n")}${more}`,
    );
  }
  return jobs;
}

function withDefaults(job: JobInput, defaults: ReturnType<typeof whenOf>): JobInput {
  return job.delay === undefined && job.runAt === undefined ? { ...job, ...defaults } : job;
}

async function sendAll(
  client: CheckbackClient,
  options: ImportOptions,
  todo: JobInput[],
  total: number,
): Promise<ImportSummary> {
  const started = Date.now();
  const summary: ImportSummary = {
    queue: options.queue,
    total,
    skipped: Math.min(options.skip, total),
    imported: 0,
    created: 0,
    existing: 0,
    replaced: 0,
    ms: 0,
  };
  const progress = startProgress("import", todo.length, options.progress);
  try {
    for (let at = 0; at < todo.length; at += options.chunkSize) {
      const chunk = todo.slice(at, at + options.chunkSize);
      const added = await sendChunk(client, options.queue, chunk, (n) => {
        summary.imported += n;
        progress.advance(n);
      });
      for (const job of added) summary[job.outcome ?? "created"] += 1;
    }
  } catch (error) {
    progress.stop();
    const resumeAt = summary.skipped + summary.imported;
    process.stderr.write(
      `import stopped after ${summary.imported} of ${todo.length} jobs; each chunk is atomic, ` +
        `so resume with --skip ${resumeAt}\n`,
    );
    throw error;
  }
  progress.stop();
  summary.ms = Date.now() - started;
  return summary;
}

/**
 * Sends one chunk with bulk add. A chunk the server finds too large (413) was not added, as bulk
 * adds are atomic, so it is split in half and each half sent, down to single jobs.
 */
async function sendChunk(
  client: CheckbackClient,
  queue: string,
  chunk: JobInput[],
  onAdded: (count: number) => void,
): Promise<AddedJob[]> {
  try {
    const { jobs } = await client.addBulk(queue, chunk);
    onAdded(jobs.length);
    return jobs;
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 413 && chunk.length > 1)) throw error;
    const half = Math.ceil(chunk.length / 2);
    const first = await sendChunk(client, queue, chunk.slice(0, half), onAdded);
    const second = await sendChunk(client, queue, chunk.slice(half), onAdded);
    return [...first, ...second];
  }
}

function describeSummary(summary: ImportSummary): string {
  const parts = [`${summary.created} created`];
  if (summary.existing > 0) parts.push(`${summary.existing} existing (key already held)`);
  if (summary.replaced > 0) parts.push(`${summary.replaced} replaced`);
  if (summary.skipped > 0) parts.push(`${summary.skipped} skipped`);
  const seconds = (summary.ms / 1000).toFixed(1);
  return `imported ${summary.imported} job${summary.imported === 1 ? "" : "s"} into ${summary.queue} in ${seconds}s: ${parts.join(", ")}`;
}
