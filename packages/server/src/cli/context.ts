import { CheckbackClient } from "@checkback/client";
import { parseDuration } from "checkback";
import type { Command } from "commander";
import { createOutput, type Output } from "./output.js";

/** What every command that talks to a server needs: the client and where to print. */
export interface CliContext {
  client: CheckbackClient;
  out: Output;
}

interface GlobalOptions {
  url: string;
  token?: string;
  json?: boolean;
  timeout: string | number;
}

/** The program-wide options (--url, --token, --json, --timeout) merged with the command's own. */
export function contextOf(command: Command): CliContext {
  const options = command.optsWithGlobals<GlobalOptions>();
  return {
    client: new CheckbackClient({
      url: options.url,
      token: options.token || undefined,
      timeoutMs: parseDuration(options.timeout),
    }),
    out: createOutput(options.json === true),
  };
}

/** A usage mistake found after parsing (e.g. neither an id nor --key): reported with exit code 2. */
export function usageError(command: Command, message: string): never {
  command.error(`error: ${message}`, { exitCode: 2, code: "checkback.usage" });
}
