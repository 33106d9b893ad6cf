/**
 * The server under test, in a child process of its own (as in production): `checkback serve`
 * on a fresh store in a temporary directory, no tokens, its URL read from the start-up line.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Server {
  url: string;
  child: ChildProcess;
  dir: string;
}

/**
 * `store`: sqlite (a file in the temporary directory), memory, or a store URL. `nodeArgs`: e.g.
 * --cpu-prof. `root`: the checkout whose server runs (another one, to compare two versions in one run).
 */
export async function startServer(store: string, nodeArgs: string[] = [], root = process.cwd()): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), "checkback-bench-"));
  const storeUrl = store === "sqlite" ? `sqlite:${join(dir, "bench.db")}` : store === "memory" ? "memory:" : store;
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", "packages/server/src/cli/main.ts", "serve"], {
    env: {
      ...process.env,
      CHECKBACK_STORE: storeUrl,
      CHECKBACK_PORT: "0",
      CHECKBACK_LOG_LEVEL: "info",
      CHECKBACK_TOKENS: "",
    },
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      for (const line of buffered.split("\n")) {
        try {
          const entry = JSON.parse(line) as { url?: string; msg?: string };
          if (entry.msg === "checkback server listening" && entry.url) resolve(entry.url);
        } catch {}
      }
    });
    child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
  });
  child.stdout!.resume();
  return { url, child, dir };
}

export async function stopServer(server: Server): Promise<void> {
  const exited = new Promise((resolve) => server.child.once("exit", resolve));
  server.child.kill("SIGTERM");
  await exited;
  rmSync(server.dir, { recursive: true, force: true });
}

/** User + system CPU seconds of a process so far (Linux /proc; clock ticks are 100/s). */
export function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
