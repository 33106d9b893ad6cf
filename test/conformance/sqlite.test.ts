import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../../packages/checkback/src/stores/sqlite/sqlite-store.js";
import { runStoreConformance } from "./store-suite.js";

runStoreConformance("sqlite", async () => {
  const dir = mkdtempSync(join(tmpdir(), "checkback-sqlite-"));
  const path = join(dir, "conformance.db");
  const store = new SqliteStore({ path });
  return {
    store,
    sibling: () => new SqliteStore({ path }),
    close: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
