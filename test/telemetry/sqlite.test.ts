import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../../packages/checkback/src/stores/sqlite/sqlite-store.js";
import { runTraceSuite } from "./trace-suite.js";

runTraceSuite("sqlite", async () => {
  const dir = mkdtempSync(join(tmpdir(), "checkback-trace-"));
  const store = new SqliteStore({ path: join(dir, "trace.db") });
  return {
    store,
    afterClose: async () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
