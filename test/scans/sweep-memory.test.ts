import { MemoryStore } from "../../packages/checkback/src/stores/memory/memory-store.js";
import { runSweepSuite } from "./sweep-suite.js";

runSweepSuite("memory", async () => {
  const store = new MemoryStore();
  return { store, peer: () => store, close: () => store.close() };
});
