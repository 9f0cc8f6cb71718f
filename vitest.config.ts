import { defineConfig } from "vitest/config";

// The engine suite (test/core) runs twice: on SQLite, and on PostgreSQL whenever a test database
// is given (HERALD_TEST_POSTGRES_URL) — always in CI, where .ci/run makes one per run.
const postgresLeg = Boolean(process.env.HERALD_TEST_POSTGRES_URL) || process.env.CI === "true";

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Delivery tests open real sockets, files and child processes; two workers match the two cores.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    projects: [
      { extends: true, test: { name: "sqlite", include: ["test/**/*.test.ts"] } },
      ...(postgresLeg
        ? [{ extends: true, test: { name: "postgres", include: ["test/core/**/*.test.ts"], env: { HERALD_TEST_BACKEND: "postgres" } } }]
        : []),
    ],
  },
});
