#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { ApiError, ConnectionError } from "@checkback/client";
import { CommanderError } from "commander";
import { CliError } from "./errors.js";
import { buildProgram } from "./program.js";

/**
 * The `checkback` executable. Exit codes: 0 success, 1 the request failed (the server's
 * error, an unreachable server, a bad input file), 2 the command line was wrong.
 */
async function main(argv: string[]): Promise<number> {
  const program = buildProgram(packageVersion());
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    return report(error);
  }
}

function report(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander has printed its message already; help and --version end here too, with 0.
    return error.exitCode === 0 ? 0 : 2;
  }
  if (error instanceof ApiError) {
    printError(error.code, error.message);
    if (error.status === 401) process.stderr.write("hint: pass --token or set CHECKBACK_TOKEN\n");
    return 1;
  }
  if (error instanceof ConnectionError) {
    printError(error.code, `${error.message}; is it running? Point at it with --url or CHECKBACK_URL`);
    return 1;
  }
  if (error instanceof CliError) {
    printError(error.code, error.message);
    return error.exitCode;
  }
  const code = typeof (error as { code?: unknown })?.code === "string" ? (error as { code: string }).code : "INTERNAL";
  printError(code, error instanceof Error ? error.message : String(error));
  if (process.env.CHECKBACK_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  return 1;
}

function printError(code: string, message: string): void {
  process.stderr.write(`error: ${code}: ${message}\n`);
}

function packageVersion(): string {
  // src/cli/main.ts and dist/cli/main.js both sit two levels below package.json.
  const text = readFileSync(new URL("../../package.json", import.meta.url), "utf8");
  return (JSON.parse(text) as { version: string }).version;
}

// `checkback ls … | head -1`: the reader left, nothing more to say; not worth a stack trace.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

// exitCode rather than exit(): pending stdout writes to a pipe still flush, and `serve` keeps running.
process.exitCode = await main(process.argv);
