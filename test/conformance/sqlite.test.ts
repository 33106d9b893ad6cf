import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../../packages/checkback/src/stores/sqlite/sqlite-store.js";
import { runStoreConformance } from "./store-suite.js";

runStoreConformance("sqlite", async () => {
  const dir = mkdtempSync(join(tmpdir(), "checkback-sqlite-"));
  const path = join(dir, "conformance.db");
  // The real clock, moved forward by the lease tests instead of waiting; siblings share it.
  let offset = 0;
  const clock = () => Date.now() + offset;
  const store = new SqliteStore({ path, clock });
  return {
    store,
    sibling: () => new SqliteStore({ path, clock }),
    advanceClock: (ms) => {
      offset += ms;
    },
    close: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
