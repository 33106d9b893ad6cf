import { MemoryStore } from "../../packages/checkback/src/stores/memory/memory-store.js";
import { runStoreConformance } from "./store-suite.js";

runStoreConformance("memory", async () => {
  const store = new MemoryStore();
  return { store, close: () => store.close(), sibling: () => new MemoryStore() };
});
