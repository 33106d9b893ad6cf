import { describe, it } from "vitest";
import { PostgresStore } from "../../packages/checkback/src/stores/postgres/postgres-store.js";
import { DATABASE_URL, dropSchema, postgresReachable, randomSchema } from "../support/postgres-env.js";
import { runStoreConformance } from "./store-suite.js";

// A schema of its own, dropped afterwards: the suite shares the server with anything else.
const schema = randomSchema("cbconf");

if (await postgresReachable()) {
  runStoreConformance("postgres", async () => {
    const store = new PostgresStore({ connectionString: DATABASE_URL, schema });
    return {
      store,
      sibling: () => new PostgresStore({ connectionString: DATABASE_URL, schema }),
      close: async () => {
        await store.close();
        await dropSchema(schema);
      },
    };
  });
} else {
  describe.skip("Store conformance: postgres (no PostgreSQL)", () => it("needs PostgreSQL", () => {}));
}
