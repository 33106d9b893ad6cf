import { MemoryStore } from "../../packages/checkback/src/stores/memory/memory-store.js";
import { runCheckSuite } from "./check-suite.js";

runCheckSuite("memory", async () => {
  const store = new MemoryStore();
  return { store, peer: () => store, close: () => store.close() };
});
