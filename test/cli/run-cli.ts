import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The real executable, as users run it in a checkout (tsx, no build). */
export const CHECKBACK_BIN = fileURLToPath(new URL("../../bin/checkback", import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Server URL, passed as CHECKBACK_URL. */
  url?: string;
  env?: Record<string, string>;
  /** Text written to the command's stdin (otherwise stdin is empty). */
  input?: string;
}

/**
 * Runs `checkback …args` as a child process. Asynchronous on purpose: the server under test
 * lives in this process, and a synchronous spawn would block it from answering.
 */
export function runCli(args: string[], options: RunOptions = {}): Promise<CliRun> {
  const env: Record<string, string | undefined> = { ...process.env, ...options.env };
  // The developer's own settings must not leak into the test.
  for (const name of ["CHECKBACK_URL", "CHECKBACK_TOKEN", "CHECKBACK_DEBUG"]) delete env[name];
  if (options.url !== undefined) env.CHECKBACK_URL = options.url;
  Object.assign(env, options.env);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHECKBACK_BIN, ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
}

/** Parses the --json document a command printed, failing with its stderr when there is none. */
export function parseJson<T = unknown>(run: CliRun): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`expected JSON on stdout; exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  }
}
