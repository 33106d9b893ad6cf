import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Store suites share real services (Redis, PostgreSQL); files run in parallel
    // but each test uses its own queue names, so they never see each other's jobs.
    pool: "forks",
  },
});
