import type { JobRef, WhenBody } from "@checkback/client";
import { type Command, Option } from "commander";
import { durationArg, instantArg, queueArg } from "../args.js";
import { usageError } from "../context.js";

/** Every queue-level command names its queue the same way. */
export function queueOption(): Option {
  return new Option("-q, --queue <name>", "queue name").argParser(queueArg).makeOptionMandatory();
}

/** Adds --delay <duration> | --run-at <instant>, mutually exclusive. */
export function addWhenOptions(command: Command, purpose: string): Command {
  return command
    .addOption(
      new Option("-d, --delay <duration>", `${purpose} after this long, e.g. 30s, 15m, 1h30m`)
        .argParser(durationArg)
        .conflicts("runAt"),
    )
    .addOption(
      new Option("--run-at <instant>", `${purpose} at this instant: ISO date or epoch ms`).argParser(instantArg),
    );
}

export function whenOf(options: { delay?: string | number; runAt?: number }): WhenBody {
  if (options.delay !== undefined) return { delay: options.delay };
  if (options.runAt !== undefined) return { runAt: options.runAt };
  return {};
}

/** A job is named by its id (the argument) or by --key, not both. */
export function jobRefOf(command: Command, id: string | undefined, key: string | undefined): JobRef {
  if (id !== undefined && key !== undefined) usageError(command, "give a job id or --key, not both");
  if (id !== undefined) return { id };
  if (key !== undefined) return { key };
  return usageError(command, "name the job: give its id, or --key <key>");
}
