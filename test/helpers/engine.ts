/**
 * A Herald engine on a fresh store for one test, closed by `closeEngines` in afterEach.
 *
 * The engine suite runs once per backend (vitest projects in vitest.config.ts): on SQLite, each
 * engine gets its own file in a temp folder; with HERALD_TEST_BACKEND=postgres, its own schema
 * in this test file's PostgreSQL database (see backends.ts). `reopenEngine` opens a second engine
 * on the same data, as a restarted process would.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { createHerald, makeSecretBox, parseMasterKey, SqliteStore, type Herald, type HeraldOptions, type Store } from "../../src/index.js";
import { watchForLeaks } from "../setup/leak-detector.js";
import { engineBackend, storeBackends } from "./backends.js";

export { engineBackend };
const postgres = engineBackend === "postgres" ? storeBackends.find((b) => b.name === "postgres") : undefined;
if (engineBackend === "postgres" && !postgres) {
  throw new Error("HERALD_TEST_BACKEND=postgres needs HERALD_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/<database>");
}
if (postgres) afterAll(() => postgres.cleanup());

const open: Array<{ herald: Herald; dir: string | null }> = [];
const sqliteData = new WeakMap<Herald, { database: string; secretKey: string }>();
const postgresStores = new WeakMap<Herald, Store>();
const peerStores: Store[] = [];
watchForLeaks("a Herald engine from openEngine that closeEngines did not close", () => open.map(({ herald }) => herald), (herald) =>
  herald.running ? "its worker is still running" : "its worker is stopped",
);

export function tempDir(prefix = "herald-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

const baseOptions = (options: HeraldOptions): HeraldOptions => ({
  allowPrivateTargets: true,
  dispatch: { pollIntervalMs: 20, ...options.dispatch },
  onError: (error, context) => {
    throw new Error(`engine error while ${context}: ${String(error)}`);
  },
  ...options,
  ...(options.dispatch ? { dispatch: { pollIntervalMs: 20, ...options.dispatch } } : {}),
});

export async function openEngine(options: HeraldOptions = {}): Promise<Herald> {
  if (postgres && options.database === undefined && options.store === undefined) {
    const store = await postgres.open();
    const herald = await createHerald({ ...baseOptions(options), store });
    postgresStores.set(herald, store);
    open.push({ herald, dir: null });
    return herald;
  }
  const dir = tempDir();
  const database = options.database ?? `sqlite:${join(dir, "herald.db")}`;
  const secretKey = options.secretKey ?? "7".repeat(64);
  const herald = await createHerald({ ...baseOptions(options), database, secretKey });
  sqliteData.set(herald, { database, secretKey });
  open.push({ herald, dir });
  return herald;
}

/** A new engine on the same data as `previous` (which may be closed), as after a restart. */
export async function reopenEngine(previous: Herald, options: HeraldOptions = {}): Promise<Herald> {
  if (postgres) {
    const herald = await createHerald({ ...baseOptions(options), store: await postgres.openPeer!(await storeOf(previous)) });
    open.push({ herald, dir: null });
    return herald;
  }
  const data = sqliteData.get(previous);
  if (!data) throw new Error("reopenEngine: give an engine made by openEngine");
  return openEngine({ ...options, ...data });
}

/**
 * The store under an engine made by openEngine, for the few tests that set up state no engine
 * call offers (a lease left by a crashed worker, a record aged past retention). The engine
 * itself exposes no store: on SQLite this is a second connection to the same file, as another
 * process would have; on PostgreSQL the engine's own store.
 */
export async function storeOf(herald: Herald): Promise<Store> {
  const shared = postgresStores.get(herald);
  if (shared) return shared;
  const data = sqliteData.get(herald);
  if (!data) throw new Error("storeOf: give an engine made by openEngine");
  const store = new SqliteStore({ path: data.database.slice("sqlite:".length), secretBox: makeSecretBox(parseMasterKey(data.secretKey, "test")) });
  peerStores.push(store);
  return store;
}

/** Closes the engines newest first (a later engine may run on an earlier one's store), then the stores storeOf opened. */
export async function closeEngines(): Promise<void> {
  for (const { herald, dir } of open.splice(0).reverse()) {
    await herald.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
  for (const store of peerStores.splice(0)) await store.close();
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a value that is not undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    await sleep(20);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}
