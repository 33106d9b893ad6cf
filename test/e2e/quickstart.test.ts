import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { expect, it } from "vitest";

const run = promisify(execFile);
// Resolved from the repository, since the example runs in an empty temporary folder.
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

it("the README's example runs as written and closes the unpaid order when due", async () => {
  const cwd = mkdtempSync(join(tmpdir(), "checkback-quickstart-"));
  const script = join(import.meta.dirname, "../../examples/quickstart.ts");
  const { stdout } = await run(process.execPath, ["--import", tsx, script], {
    cwd,
    env: { ...process.env, CHECKBACK_STORE: `sqlite:${join(cwd, "quickstart.db")}` },
    timeout: 30_000,
  });
  expect(stdout).toMatch(/^order A-1001 is CLOSED; the job ran \d+ ms after its due time$/m);
});
