import { defineConfig } from "vitest/config";

// The suite runs once per backend (pg-boss's shape): every file on SQLite, and every file that
// drives the engine, the API, the dashboard or the CLI over a store again on PostgreSQL whenever
// a test database is given (HERALD_TEST_POSTGRES_URL) — always in CI, where .ci/run makes one
// per run. Files with no store under them (configuration parsing, receiver verification, the
// store conformance suite, which runs both backends itself, and the bench) run once.
const postgresLeg = Boolean(process.env.HERALD_TEST_POSTGRES_URL) || process.env.CI === "true";

const POSTGRES_LEG = ["test/core/**/*.test.ts", "test/hardening/**/*.test.ts", "test/api/**/*.test.ts", "test/dashboard/**/*.test.ts", "test/cli/**/*.test.ts", "test/scale-out/**/*.test.ts", "test/seeds/**/*.test.ts"];
const STORE_FREE = ["test/api/config.test.ts", "test/cli/output-and-connection.test.ts", "test/dashboard/screenshots.test.ts"];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Fails any test that leaves an engine, timer, child process or server running.
    setupFiles: ["test/setup/leaks.ts"],
    // Delivery tests open real sockets, files and child processes; two workers match the two cores.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    projects: [
      { extends: true, test: { name: "sqlite", include: ["test/**/*.test.ts"] } },
      ...(postgresLeg
        ? [{ extends: true as const, test: { name: "postgres", include: POSTGRES_LEG, exclude: STORE_FREE, env: { HERALD_TEST_BACKEND: "postgres" } } }]
        : []),
    ],
  },
});
