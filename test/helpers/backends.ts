/**
 * Every store backend, for suites that must run once per backend unchanged:
 *
 *   describe.each(storeBackends)("$name store", (backend) => {
 *     afterAll(() => backend.cleanup());
 *     it("...", async () => { const store = await backend.open(); ... });
 *   });
 *
 * SQLite always runs. PostgreSQL runs when HERALD_TEST_POSTGRES_URL is set, and always in CI,
 * where a missing URL or unreachable server fails its tests (see postgres.ts). Each open()
 * gives a fresh, empty, migrated store: an in-memory SQLite database, or a new schema in this
 * test file's own PostgreSQL database. `cleanup()` closes every store the backend opened
 * (closing one twice is harmless, so a Herald that closed its store is fine) and drops the
 * file's database.
 */
import { randomBytes } from "node:crypto";
import { describe, it } from "vitest";
import { watchSharedResources } from "../setup/leak-detector.js";
import { makeSecretBox, type SecretBox } from "../../src/secrets/secret-box.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { createTestDatabase, postgresLegEnabled, type TestDatabase } from "./postgres.js";

export interface StoreBackend {
  name: "sqlite" | "postgres";
  /** A fresh, empty, migrated store, closed by cleanup(). */
  open(): Promise<Store>;
  /**
   * Another store on the same data as `store` (opened by this backend), with its own
   * connections, as a second Herald process would have. Only backends with multiProcess.
   */
  openPeer?(store: Store): Promise<Store>;
  cleanup(): Promise<void>;
}

function sqliteBackend(): StoreBackend {
  const stores: Store[] = [];
  watchSharedResources(() => stores);
  return {
    name: "sqlite",
    async open() {
      const store = new SqliteStore({ path: ":memory:", secretBox: makeSecretBox(randomBytes(32)) });
      stores.push(store);
      return store;
    },
    async cleanup() {
      for (const store of stores.splice(0)) await store.close();
    },
  };
}

function postgresBackend(): StoreBackend {
  let database: Promise<TestDatabase> | null = null;
  let schemas = 0;
  const stores: Store[] = [];
  watchSharedResources(() => stores);
  // Peers must open the sealed columns their first store wrote.
  const boxes = new WeakMap<Store, SecretBox>();
  const openStore = async (schema: string, secretBox: SecretBox) => {
    database ??= createTestDatabase();
    const store = await PostgresStore.open({
      connectionString: (await database).url,
      schema,
      secretBox,
      poolSize: 4,
      onError: (error, context) => {
        // pool.end() resolves before its sockets finish closing, so dropping the file's database
        // WITH (FORCE) can still terminate one of them (57P01): expected at cleanup, not a failure.
        if ((error as { code?: string }).code !== "57P01") console.error(`test store ${schema}: ${context}:`, error);
      },
    });
    stores.push(store);
    boxes.set(store, secretBox);
    return store;
  };
  return {
    name: "postgres",
    open() {
      schemas++;
      return openStore(`s${schemas}`, makeSecretBox(randomBytes(32)));
    },
    openPeer(store) {
      const box = boxes.get(store);
      if (!(store instanceof PostgresStore) || store.schema === null || box === undefined) {
        throw new Error("openPeer: give a store this backend opened");
      }
      return openStore(store.schema, box);
    },
    async cleanup() {
      for (const store of stores.splice(0)) await store.close();
      const opened = database;
      database = null;
      if (opened) await (await opened).drop();
    },
  };
}

export const storeBackends: StoreBackend[] = [sqliteBackend(), ...(postgresLegEnabled() ? [postgresBackend()] : [])];

/** The backend for tests that only make sense with several processes on one database; undefined when its leg is off. */
export const multiProcessBackend: StoreBackend | undefined = storeBackends.find((backend) => backend.name === "postgres");

/**
 * The backend this vitest project runs the engine and API suites on: "postgres" in the postgres
 * project (vitest.config.ts sets HERALD_TEST_BACKEND), else "sqlite".
 */
export const engineBackend: "sqlite" | "postgres" = process.env.HERALD_TEST_BACKEND === "postgres" ? "postgres" : "sqlite";

/**
 * The few tests that only mean something on one backend name it (pg-boss style) instead of an
 * ad-hoc `if`: `itOnSqliteOnly` for the embedded store's own file and single process (raw file
 * checks, kill -9 of the one process), `describeOnPostgresOnly` for several processes on one database.
 */
export const itOnSqliteOnly = it.skipIf(engineBackend !== "sqlite");
export const describeOnPostgresOnly = describe.skipIf(engineBackend !== "postgres" || multiProcessBackend === undefined);

const serverDatabases = new Map<string, Promise<TestDatabase>>();

/**
 * HERALD_DATABASE_URL for a server a test starts the way `herald serve` does (startServer opens
 * its store from a URL): a SQLite file in its data folder, or on the PostgreSQL leg a database of
 * its own per data folder, so a restart on the same folder finds the same data.
 */
export async function serverDatabaseUrl(dataDir: string): Promise<string> {
  if (engineBackend === "sqlite") return `sqlite:${dataDir}/herald.db`;
  let database = serverDatabases.get(dataDir);
  if (!database) {
    database = createTestDatabase();
    serverDatabases.set(dataDir, database);
  }
  return (await database).url;
}

/** Drops the database serverDatabaseUrl made for `dataDir`, if any; call once its server is closed. */
export async function dropServerDatabase(dataDir: string): Promise<void> {
  const database = serverDatabases.get(dataDir);
  serverDatabases.delete(dataDir);
  if (database) await (await database).drop();
}

/** Drops every database serverDatabaseUrl made. */
export async function dropServerDatabases(): Promise<void> {
  for (const dataDir of [...serverDatabases.keys()]) await dropServerDatabase(dataDir);
}
