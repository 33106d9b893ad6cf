import { describe, it } from "vitest";
import { PostgresStore } from "../../packages/checkback/src/stores/postgres/postgres-store.js";
import { DATABASE_URL, dropSchema, postgresReachable, randomSchema } from "../support/postgres-env.js";
import { runTraceSuite } from "./trace-suite.js";

const schema = randomSchema("cbtrace");

if (await postgresReachable()) {
  runTraceSuite("postgres", async () => {
    const store = new PostgresStore({ connectionString: DATABASE_URL, schema });
    return {
      store,
      afterClose: () => dropSchema(schema),
    };
  });
} else {
  describe.skip("tracing: postgres (no PostgreSQL)", () => it("needs PostgreSQL", () => {}));
}
