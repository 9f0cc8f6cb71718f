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
