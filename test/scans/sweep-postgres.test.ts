import { describe, it } from "vitest";
import { PostgresStore } from "../../packages/checkback/src/stores/postgres/postgres-store.js";
import { DATABASE_URL, dropSchema, postgresReachable, randomSchema } from "../support/postgres-env.js";
import { runSweepSuite } from "./sweep-suite.js";

// Each test gets a schema of its own; a peer is a second store with its own pool and LISTEN
// connection, as another process would have.
if (await postgresReachable()) {
  runSweepSuite("postgres", async () => {
    const schema = randomSchema("cbsweeps");
    const stores: PostgresStore[] = [];
    const open = () => {
      const store = new PostgresStore({ connectionString: DATABASE_URL, schema });
      stores.push(store);
      return store;
    };
    const store = open();
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
  describe.skip("sweeps on postgres (no PostgreSQL)", () => it("needs PostgreSQL", () => {}));
}
