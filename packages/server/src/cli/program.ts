import { Command, Option } from "commander";
import { durationArg, urlArg } from "./args.js";
import { registerAdd } from "./commands/add.js";
import { registerBackup } from "./commands/backup.js";
import { registerCancel } from "./commands/cancel.js";
import { registerDead } from "./commands/dead.js";
import { registerFlow } from "./commands/flow.js";
import { registerGet } from "./commands/get.js";
import { registerGroups } from "./commands/groups.js";
import { registerImport } from "./commands/import.js";
import { registerLs } from "./commands/ls.js";
import { registerReschedule } from "./commands/reschedule.js";
import { registerSchedules } from "./commands/schedules.js";
import { registerServe } from "./commands/serve.js";
import { registerStats } from "./commands/stats.js";
import { registerSweeps } from "./commands/sweeps.js";

/** The server's default address (packages/server/src/http/config.ts DEFAULT_PORT); kept literal so client commands start fast. */
export const DEFAULT_SERVER_URL = "http://127.0.0.1:8787";

export function buildProgram(version: string): Command {
  const program = new Command("checkback")
    .description("checkback: a durable delay queue. Talks to a checkback server, or runs one (serve).")
    .version(version, "-V, --version")
    .addOption(
      new Option("--url <url>", "server URL").env("CHECKBACK_URL").default(DEFAULT_SERVER_URL).argParser(urlArg),
    )
    .addOption(new Option("--token <token>", "bearer token, if the server requires one").env("CHECKBACK_TOKEN"))
    .option("--json", "print machine-readable JSON on stdout")
    .addOption(
      new Option("--timeout <duration>", "give up on a request after this long").argParser(durationArg).default("30s"),
    )
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .showHelpAfterError("(add --help for usage)")
    // Commander would exit by itself; we want to pick the exit code (2 for usage errors).
    .exitOverride();

  registerServe(program);
  registerAdd(program);
  registerImport(program);
  registerGet(program);
  registerLs(program);
  registerCancel(program);
  registerReschedule(program);
  registerDead(program);
  registerSchedules(program);
  registerStats(program);
  registerFlow(program);
  registerGroups(program);
  registerBackup(program);
  registerSweeps(program);

  program.addHelpText(
    "after",
    `
Server errors are printed as "error: <code>: <message>" with exit code 1; usage errors exit 2.

Examples:
  $ checkback serve --port 8787 --store sqlite:./checkback.db
  $ checkback add -q orders '{"orderId":42}' --delay 30m --key order-42
  $ checkback ls -q orders --state dead --json
  $ CHECKBACK_URL=http://queue.internal:8787 checkback stats`,
  );
  return program;
}
