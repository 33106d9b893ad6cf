import { spawnSync } from "node:child_process";
import { cpSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/**
 * Compiles the benchmark process (bench/child.ts and everything it imports) to plain
 * JavaScript, so each measured process runs on bare Node as an application would. Under tsx
 * every process also carries the transpiler, about 45 MB of RSS that is not the engine's.
 *
 * The output goes under the repository (.tmp/, ignored by git) so that bare imports still
 * resolve from its node_modules, in a directory of this run's own (two runs at once must not
 * delete each other's build); files that are not TypeScript (the Redis store's Lua scripts)
 * are copied beside the compiled modules that read them.
 */
export function buildChild(repoRoot: string): { childPath: string; remove(): void } {
  const outDir = join(repoRoot, ".tmp", `bench-build-${process.pid}`);
  const tsc = join(dirname(createRequire(import.meta.url).resolve("typescript/package.json")), "bin", "tsc");
  const compile = spawnSync(
    process.execPath,
    [
      tsc,
      join(repoRoot, "bench", "child.ts"),
      "--ignoreConfig",
      ...["--outDir", outDir, "--rootDir", repoRoot],
      ...["--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022"],
      ...["--types", "node", "--skipLibCheck", "--noCheck"],
    ],
    { cwd: repoRoot, encoding: "utf8" },
  );
  if (compile.status !== 0) {
    rmSync(outDir, { recursive: true, force: true });
    throw new Error(`compiling bench/child.ts failed:\n${compile.stdout}${compile.stderr}`);
  }
  cpSync(join(repoRoot, "packages", "checkback", "src"), join(outDir, "packages", "checkback", "src"), {
    recursive: true,
    filter: (source) => statSync(source).isDirectory() || !source.endsWith(".ts"),
  });
  return {
    childPath: join(outDir, "bench", "child.js"),
    remove: () => rmSync(outDir, { recursive: true, force: true }),
  };
}
