import { MemoryStore } from "../../packages/checkback/src/stores/memory/memory-store.js";
import { runStoreConformance } from "./store-suite.js";

runStoreConformance("memory", async () => {
  // The real clock, moved forward by the lease tests instead of waiting.
  let offset = 0;
  const clock = () => Date.now() + offset;
  const store = new MemoryStore({ clock });
  return {
    store,
    close: () => store.close(),
    sibling: () => new MemoryStore({ clock }),
    advanceClock: (ms) => {
      offset += ms;
    },
  };
});
