/**
 * The server under test, in a child process of its own (as in production): `checkback serve`
 * on a fresh store in a temporary directory, no tokens, its URL read from the start-up line.
 *
 * By default it runs from the TypeScript sources under tsx. `compiled` runs the JavaScript the
 * packages publish (`dist/`, what the installed `checkback` command runs) instead: tsx adds
 * work per request that an installed server does not do (its transform keeps function names
 * with a helper call each time a closure is made), so throughput figures are taken compiled.
 * buildServer() writes that JavaScript first.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Server {
  url: string;
  child: ChildProcess;
  dir: string;
}

export interface ServerOptions {
  /** Node options, e.g. --cpu-prof. */
  nodeArgs?: string[];
  /** The checkout whose server runs (another one, to compare two versions in one run). */
  root?: string;
  /** Run packages/server/dist (see buildServer) rather than the sources under tsx. */
  compiled?: boolean;
}

/** `store`: sqlite (a file in the temporary directory), memory, or a store URL. */
export async function startServer(store: string, options: ServerOptions = {}): Promise<Server> {
  const { nodeArgs = [], root = process.cwd(), compiled = false } = options;
  const dir = mkdtempSync(join(tmpdir(), "checkback-bench-"));
  const storeUrl = store === "sqlite" ? `sqlite:${join(dir, "bench.db")}` : store === "memory" ? "memory:" : store;
  const entry = compiled
    ? ["packages/server/dist/cli/main.js"]
    : ["--import", "tsx", "packages/server/src/cli/main.ts"];
  const child = spawn(process.execPath, [...nodeArgs, ...entry, "serve"], {
    env: {
      ...process.env,
      // npm runs this with the packages resolving to their sources; the compiled server uses dist/.
      ...(compiled
        ? { NODE_OPTIONS: (process.env.NODE_OPTIONS ?? "").replace(/--conditions=checkback-source/g, "").trim() }
        : {}),
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

/**
 * Compiles the three packages of `root` to their dist/ folders (as `npm run build` does, less the
 * dashboard, which no benchmark requests), so startServer can run them `compiled`.
 */
export function buildServer(root = process.cwd()): void {
  for (const pkg of ["checkback", "client", "server"]) {
    const tsc = spawnSync(
      process.execPath,
      ["node_modules/typescript/bin/tsc", "-p", `packages/${pkg}/tsconfig.build.json`],
      {
        cwd: root,
        encoding: "utf8",
      },
    );
    if (tsc.status !== 0) throw new Error(`building packages/${pkg} in ${root} failed:\n${tsc.stdout}${tsc.stderr}`);
  }
  // The Redis store reads its Lua scripts from beside its modules.
  cpSync(
    join(root, "packages/checkback/src/stores/redis/scripts"),
    join(root, "packages/checkback/dist/stores/redis/scripts"),
    {
      recursive: true,
    },
  );
}
