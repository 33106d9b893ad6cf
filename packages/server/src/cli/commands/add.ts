import type { AddedJob, JobInput } from "@checkback/client";
import { type Command, Option } from "commander";
import { backoffArg, jsonArg, positiveIntArg } from "../args.js";
import { contextOf, usageError } from "../context.js";
import { jobDetails } from "../output.js";
import { readStdin } from "../stdin.js";
import { addWhenOptions, queueOption, whenOf } from "./common.js";

interface AddOptions {
  queue: string;
  delay?: string | number;
  runAt?: number;
  key?: string;
  replace?: boolean;
  attempts?: number;
  backoff?: unknown;
  group?: string;
}

export function registerAdd(program: Command): void {
  const command = program
    .command("add")
    .description("add one job to a queue")
    .argument("<payload>", "the job's payload as JSON, or - to read it from stdin")
    .addOption(queueOption());
  addWhenOptions(command, "run")
    .option("-k, --key <key>", "business key, unique among the queue's unfinished jobs")
    .option("--replace", "if an unfinished job holds the key, replace its payload and due time")
    .addOption(new Option("--attempts <n>", "attempts before the job goes dead").argParser(positiveIntArg))
    .addOption(
      new Option("--backoff <backoff>", 'retry back-off: a duration, or JSON like \'["10s","1m"]\'').argParser(
        backoffArg,
      ),
    )
    .option("-g, --group <group>", "the job's group: groups take turns and may be limited (see group-limit)")
    .addHelpText(
      "after",
      `
Examples:
  $ checkback add -q orders '{"orderId":42}' --delay 30m --key order-42
  $ checkback add -q payments '{"paymentId":"P-9"}' --group merchant-7
  $ echo '{"orderId":42}' | checkback add -q orders - --run-at 2026-12-01T09:00:00Z`,
    )
    .action(async (payloadText: string, options: AddOptions, command: Command) => {
      const { client, out } = contextOf(command);
      const payload =
        payloadText === "-" ? parseStdinPayload(command, await readStdin()) : jsonOrUsage(command, payloadText);
      const job: JobInput = { payload, ...whenOf(options) };
      if (options.key !== undefined) job.key = options.key;
      if (options.replace) job.replace = true;
      if (options.attempts !== undefined) job.attempts = options.attempts;
      if (options.backoff !== undefined) job.backoff = options.backoff;
      if (options.group !== undefined) job.group = options.group;
      const added: AddedJob = await client.add(options.queue, job);
      out.result(added, () => jobDetails(added));
      if (added.outcome === "existing")
        out.note(`note: job ${added.id} already held key ${JSON.stringify(added.key)}; kept it`);
    });
}

function jsonOrUsage(command: Command, text: string): unknown {
  try {
    return jsonArg(text);
  } catch (error) {
    return usageError(command, `payload is ${(error as Error).message}`);
  }
}

function parseStdinPayload(command: Command, text: string): unknown {
  if (text.trim() === "") return usageError(command, "payload is - but stdin is empty");
  return jsonOrUsage(command, text);
}
