import { MemoryStore } from "../../packages/checkback/src/stores/memory/memory-store.js";
import { runScheduleSuite } from "./schedule-suite.js";

runScheduleSuite("memory", async () => {
  const store = new MemoryStore();
  return { store, peer: () => store, close: () => store.close() };
});
