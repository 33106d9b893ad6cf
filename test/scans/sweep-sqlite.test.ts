import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../../packages/checkback/src/stores/open-store.js";
import type { Store } from "../../packages/checkback/src/stores/store.js";
import { runSweepSuite } from "./sweep-suite.js";

// Each peer is a second connection to the same file, as a runner in another process would have.
runSweepSuite("sqlite", async () => {
  const dir = mkdtempSync(join(tmpdir(), "checkback-sweeps-"));
  const url = `sqlite:${join(dir, "sweeps.db")}`;
  const stores: Store[] = [openStore(url)];
  return {
    store: stores[0]!,
    peer: () => {
      const store = openStore(url);
      stores.push(store);
      return store;
    },
    close: async () => {
      for (const store of stores) await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
