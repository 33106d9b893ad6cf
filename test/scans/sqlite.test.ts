import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../../packages/checkback/src/stores/open-store.js";
import type { Store } from "../../packages/checkback/src/stores/store.js";
import { runScheduleSuite } from "./schedule-suite.js";

// Each peer is a second connection to the same file, as a worker in another process would have.
runScheduleSuite("sqlite", async () => {
  const dir = mkdtempSync(join(tmpdir(), "checkback-schedules-"));
  const url = `sqlite:${join(dir, "schedules.db")}`;
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
