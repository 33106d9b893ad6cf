import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

/**
 * A server refuses to start on a store it cannot use — an SQLite path it cannot create, a
 * Redis or PostgreSQL that does not answer — quickly, with a non-zero exit and a message
 * naming the store (password hidden), rather than listening and failing every request.
 */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "checkback-start-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number | null; output: string; ms: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, ["--import", "tsx", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  return new Promise((resolve) =>
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output, ms: Date.now() - started });
    }),
  );
}

describe("a server on a store it cannot use", () => {
  // Running as root, permissions do not stop a write: a regular file where a directory must be does.
  const blocker = join(dir, "not-a-directory");
  writeFileSync(blocker, "");
  const unwritable = `sqlite:${join(blocker, "checkback.db")}`;

  it("exits non-zero at once on an SQLite path it cannot create", async () => {
    const { code, output, ms } = await run([
      "packages/server/src/cli/main.ts",
      "serve",
      "--port",
      "0",
      "--store",
      unwritable,
    ]);
    expect(code).not.toBe(0);
    expect(output).toContain(`cannot use the store ${unwritable}`);
    expect(output).not.toContain("listening");
    expect(ms).toBeLessThan(10_000);
  });

  it.each([
    ["redis", "redis://user:s3cret@127.0.0.1:6428"],
    ["postgres", "postgres://postgres:s3cret@127.0.0.1:5468/postgres"],
  ])("exits non-zero within seconds when %s does not answer, naming it without the password", async (_kind, url) => {
    const { code, output, ms } = await run(["packages/server/src/cli/main.ts", "serve", "--port", "0", "--store", url]);
    expect(code).toBe(1);
    expect(output).toContain("STORE_UNAVAILABLE");
    expect(output).toContain(`cannot use the store ${url.replace("s3cret", "***")}`);
    expect(output).not.toContain("s3cret");
    expect(ms).toBeLessThan(12_000);
  });
});
