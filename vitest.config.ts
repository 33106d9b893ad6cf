import { defaultServerConditions } from "vite";
import { defineConfig } from "vitest/config";

// Workspace packages import each other by name ("checkback", "@checkback/client"); here those
// names resolve to their TypeScript sources through the "checkback-source" export condition
// (see .npmrc), in the test files and in every child process a test starts.
const SOURCE_CONDITION = "checkback-source";
const nodeOptions = process.env.NODE_OPTIONS ?? "";
if (!nodeOptions.includes(`--conditions=${SOURCE_CONDITION}`)) {
  process.env.NODE_OPTIONS = `${nodeOptions} --conditions=${SOURCE_CONDITION}`.trim();
}

// Not "module": it names bundler-only builds (e.g. @opentelemetry/api's ESM with extensionless
// imports, which prom-client requires) that Node itself cannot load.
const SERVER_CONDITIONS = defaultServerConditions.filter((condition) => condition !== "module");

export default defineConfig({
  ssr: { resolve: { conditions: [SOURCE_CONDITION, ...SERVER_CONDITIONS] } },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Store suites share real services (Redis, PostgreSQL); files run in parallel
    // but each test uses its own queue names, so they never see each other's jobs.
    pool: "forks",
  },
});
