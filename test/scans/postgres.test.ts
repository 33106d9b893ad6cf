import { describe, it } from "vitest";
import { PostgresStore } from "../../packages/checkback/src/stores/postgres/postgres-store.js";
import type { Store } from "../../packages/checkback/src/stores/store.js";
import { DATABASE_URL, dropSchema, postgresReachable, randomSchema } from "../support/postgres-env.js";
import { runScheduleSuite } from "./schedule-suite.js";

// Each test gets a schema of its own; a peer is a second store instance with its own pool and
// LISTEN connection, as another process would have.
if (await postgresReachable()) {
  runScheduleSuite("postgres", async () => {
    const schema = randomSchema("cbsched");
    const stores: PostgresStore[] = [];
    const open = () => {
      const store = new PostgresStore({ connectionString: DATABASE_URL, schema });
      stores.push(store);
      return store;
    };
    const store: Store = open();
    return {
      store,
      peer: open,
      close: async () => {
        for (const each of stores) await each.close();
        await dropSchema(schema);
      },
    };
  });
} else {
  describe.skip("schedules on postgres (no PostgreSQL)", () => it("needs PostgreSQL", () => {}));
}
