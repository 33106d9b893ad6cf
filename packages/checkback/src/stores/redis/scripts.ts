import { readFileSync } from "node:fs";
import type { Cluster, Redis } from "ioredis";

/**
 * The Lua scripts, one file per store operation in ./scripts, sharing the files in
 * ./scripts/include. A line `--@include name` is replaced by include/name.lua (once per
 * script, however often it is asked for), so every script is self-contained when it reaches
 * Redis and runs atomically there. ioredis sends them by SHA (EVALSHA) and falls back to
 * EVAL when the server has not seen them yet.
 *
 * The .lua files are read next to this module: from src/ under tsx and vitest, from dist/
 * after `npm run build`, which copies them (see the build script in package.json).
 */
export const SCRIPT_NAMES = [
  "add",
  "claim",
  "peek",
  "extend",
  "complete",
  "settle",
  "fail",
  "release",
  "cancel",
  "reschedule",
  "get",
  "list",
  "counts",
  "redrive",
  "purge",
  "trim",
  "tail",
  "sequence",
  "flow",
  "flowflag",
  "take",
  "group",
  "holders",
] as const;

export type ScriptName = (typeof SCRIPT_NAMES)[number];

const SCRIPT_DIR = new URL("./scripts/", import.meta.url);
const INCLUDE = /^--@include\s+([\w-]+)\s*$/gm;

let sources: Map<ScriptName, string> | undefined;

/** The full text of each script, includes expanded. Read once per process. */
export function scriptSources(): Map<ScriptName, string> {
  sources ??= new Map(SCRIPT_NAMES.map((name) => [name, expand(read(`${name}.lua`), new Set())]));
  return sources;
}

function read(file: string): string {
  return readFileSync(new URL(file, SCRIPT_DIR), "utf8");
}

function expand(text: string, included: Set<string>): string {
  return text.replace(INCLUDE, (_line, name: string) => {
    if (included.has(name)) return "";
    included.add(name);
    return expand(read(`include/${name}.lua`), included);
  });
}

/** Script commands take one key (the partition's base key) and string arguments. */
type ScriptCommand = (base: string, ...args: (string | number)[]) => Promise<unknown>;

/** Registers every script on a client as a command named `checkback_<script>`. */
export function defineScripts(client: Redis | Cluster): void {
  for (const [name, lua] of scriptSources()) {
    client.defineCommand(commandName(name), { numberOfKeys: 1, lua });
  }
}

export function runScript(
  client: Redis | Cluster,
  name: ScriptName,
  base: string,
  args: (string | number)[],
): Promise<unknown> {
  const command = (client as unknown as Record<string, ScriptCommand>)[commandName(name)];
  if (!command) throw new Error(`script ${name} is not defined on this client`);
  return command.call(client, base, ...args);
}

function commandName(name: ScriptName): string {
  return `checkback_${name}`;
}
