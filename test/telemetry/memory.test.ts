import { MemoryStore } from "../../packages/checkback/src/stores/memory/memory-store.js";
import { runTraceSuite } from "./trace-suite.js";

runTraceSuite("memory", async () => {
  const store = new MemoryStore();
  return { store };
});
