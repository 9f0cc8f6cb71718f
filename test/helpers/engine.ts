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
import { createHerald, type Herald, type HeraldOptions } from "../../src/index.js";
import { storeBackends } from "./backends.js";

export const engineBackend: "sqlite" | "postgres" = process.env.HERALD_TEST_BACKEND === "postgres" ? "postgres" : "sqlite";
const postgres = engineBackend === "postgres" ? storeBackends.find((b) => b.name === "postgres") : undefined;
if (engineBackend === "postgres" && !postgres) {
  throw new Error("HERALD_TEST_BACKEND=postgres needs HERALD_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/<database>");
}
if (postgres) afterAll(() => postgres.cleanup());

const open: Array<{ herald: Herald; dir: string | null }> = [];
const sqliteData = new WeakMap<Herald, { database: string; secretKey: string }>();

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
    const herald = await createHerald({ ...baseOptions(options), store: await postgres.open() });
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
    const herald = await createHerald({ ...baseOptions(options), store: await postgres.openPeer!(previous.store) });
    open.push({ herald, dir: null });
    return herald;
  }
  const data = sqliteData.get(previous);
  if (!data) throw new Error("reopenEngine: give an engine made by openEngine");
  return openEngine({ ...options, ...data });
}

export async function closeEngines(): Promise<void> {
  for (const { herald, dir } of open.splice(0)) {
    await herald.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
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
