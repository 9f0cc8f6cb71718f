/**
 * A store that cannot write: ingest answers 503 HERALD_ERR_STORE_UNAVAILABLE with Retry-After
 * and the cause, /ready says the same until a write succeeds again, the fault is reported once,
 * and nothing acknowledged is lost: the worker's attempt records wait and commit once the store
 * recovers. Every fault is real: SQLite's own SQLITE_FULL (max_page_count on Herald's
 * connection), a database file deleted or replaced under the running server, and a PostgreSQL
 * database made read-only. Herald runs over a store the test opened, so the test holds Herald's
 * own SQLite connection (max_page_count is per connection).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, renameSync, rmSync, statSync, chmodSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { buildApp } from "../../src/api/server.js";
import { loadConfig } from "../../src/config/load-config.js";
import { STORE_RETRY_AFTER_SECONDS } from "../../src/errors.js";
import { createHerald, type Herald } from "../../src/herald.js";
import { makeSecretBox } from "../../src/secrets/secret-box.js";
import { PostgresRunner } from "../../src/store/postgres/postgres-runner.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { closeAll, expectProblem, startTestServer } from "../api/helpers.js";
import { describeOnPostgresOnly, itOnSqliteOnly } from "../helpers/backends.js";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.js";
import { watchForLeaks } from "../setup/leak-detector.js";

const ADMIN_KEY = "store-faults-admin-key-0123456789";
const FULL = "the store cannot write: the disk is full (SQLITE_FULL); nothing was accepted; free space and retry";
/** More than any free room max_page_count leaves: the event needs pages of its own. */
const BIG = "x".repeat(20_000);

interface FaultServer {
  app: FastifyInstance;
  herald: Herald;
  /** Everything Herald reported through onError. */
  errors: Array<{ error: unknown; context: string }>;
  post(data?: unknown): ReturnType<FastifyInstance["inject"]>;
  ready(): ReturnType<FastifyInstance["inject"]>;
}

const cleanups: Array<() => Promise<void> | void> = [];
const servers: FaultServer[] = [];
watchForLeaks("a server from store-faults.test.ts left open", () => servers);
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
  servers.length = 0;
  await closeAll();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "herald-faults-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Herald and its API over `store`, as `herald serve` would run them, delivering. */
async function serve(store: Store): Promise<FaultServer> {
  const errors: FaultServer["errors"] = [];
  const herald = await createHerald({
    store, allowPrivateTargets: true, dispatch: { pollIntervalMs: 20 }, onError: (error, context) => errors.push({ error, context }),
  });
  await herald.start();
  const config = loadConfig({ HERALD_DATABASE_URL: "sqlite::memory:", HERALD_LOG_LEVEL: "silent", HERALD_ADMIN_API_KEY: ADMIN_KEY });
  const app = await buildApp(herald, config);
  const server: FaultServer = {
    app,
    herald,
    errors,
    post: (data = {}) =>
      app.inject({ method: "POST", url: "/v1/events", headers: { "x-admin-api-key": ADMIN_KEY }, payload: { type: "fault.probe", data } }),
    ready: () => app.inject({ method: "GET", url: "/ready" }),
  };
  servers.push(server);
  cleanups.push(async () => {
    await app.close();
    await herald.close();
  });
  return server;
}

function sqliteFile(): { path: string; store: SqliteStore } {
  const path = join(tempDir(), "herald.db");
  return { path, store: new SqliteStore({ path, secretBox: makeSecretBox(randomBytes(32)) }) };
}

/** The store faults Herald reported (each should be reported once, however many calls met it). */
const faultsReported = (server: FaultServer) =>
  server.errors.filter(({ error }) => (error as { code?: string }).code === "HERALD_ERR_STORE_UNAVAILABLE").map(({ error }) => (error as Error).message);

/** A 503 STORE_UNAVAILABLE answer with Retry-After and `detail`. */
function expectStoreUnavailable(response: Awaited<ReturnType<FaultServer["post"]>>, detail: string | RegExp, what: string): void {
  expectProblem(response, "HERALD_ERR_STORE_UNAVAILABLE", what);
  expect(response.headers["retry-after"], what).toBe(String(STORE_RETRY_AFTER_SECONDS));
  if (typeof detail === "string") expect(response.json().detail, what).toBe(detail);
  else expect(response.json().detail, what).toMatch(detail);
}

/** A receiver that answers 200 with a 10 KiB body (recorded with the attempt, so recording it needs room); between hold() and release() it answers nothing. */
async function startReceiver() {
  let release = () => {};
  let gate: Promise<void> | null = null;
  const bodies: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      bodies.push(Buffer.concat(chunks).toString("utf8"));
      void (gate ?? Promise.resolve()).then(() => res.writeHead(200, { "content-type": "text/plain" }).end("y".repeat(10_240)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        release();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    bodies,
    hold() {
      gate = new Promise((resolve) => (release = resolve));
    },
    release() {
      gate = null;
      release();
    },
  };
}

describe("store faults", () => {
  itOnSqliteOnly("a full disk answers 503 with Retry-After, /ready says so until space returns, and nothing acknowledged is lost", async () => {
    const { store } = sqliteFile();
    const server = await serve(store);
    const receiver = await startReceiver();
    await server.herald.webhooks.create({ url: receiver.url });

    // An event accepted before the disk fills is being delivered when it does.
    receiver.hold();
    const before = await server.post({ n: 1 });
    expect(before.statusCode).toBe(202);
    await expect.poll(() => receiver.bodies.length).toBe(1);
    const pages = store.db.pragma("page_count", { simple: true }) as number;
    store.db.pragma(`max_page_count = ${pages + 1}`);

    const refused = await server.post({ big: BIG });
    expectStoreUnavailable(refused, FULL, "ingest on a full disk");
    expectStoreUnavailable(await server.ready(), FULL, "/ready on a full disk");
    // The receiver answers now; recording that attempt (its 10 KiB body) needs room too, and waits for it.
    receiver.release();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const [delivered] = before.json<{ deliveries: string[] }>().deliveries;
    expect((await server.herald.deliveries.get(delivered!))?.state).toBe("in_flight");
    expectStoreUnavailable(await server.ready(), FULL, "/ready while still full");
    expect(faultsReported(server)).toEqual([FULL]); // once, however many ingests, flushes and checks met it

    store.db.pragma("max_page_count = 1073741823");
    const accepted = await server.post({ big: BIG });
    expect(accepted.statusCode).toBe(202);
    expect((await server.ready()).statusCode).toBe(200);
    await expect.poll(() => receiver.bodies.some((body) => body.includes(BIG)), { timeout: 10_000 }).toBe(true);
    // The attempt made while the disk was full is recorded once space returned: delivered once, not lost.
    await expect.poll(async () => (await server.herald.deliveries.get(delivered!))?.state, { timeout: 10_000 }).toBe("succeeded");
    expect(await server.herald.deliveries.attempts(delivered!)).toHaveLength(1);
  });

  itOnSqliteOnly("a database file deleted under the running server refuses writes within a second, and /ready says why", async () => {
    const { path, store } = sqliteFile();
    const server = await serve(store);
    expect((await server.post()).statusCode).toBe(202);
    rmSync(path);

    // Found by the engine's own check, with no /ready asked.
    const gone = new RegExp(`^the database file ${path} was deleted or replaced while Herald had it open; writes are refused`);
    await expect.poll(async () => (await server.post()).statusCode, { timeout: 3_000 }).toBe(503);
    expectStoreUnavailable(await server.post(), gone, "ingest after the file was deleted");
    expectStoreUnavailable(await server.ready(), gone, "/ready after the file was deleted");
    expect(faultsReported(server)).toHaveLength(1);
    expect(faultsReported(server)[0]).toMatch(gone);
  });

  itOnSqliteOnly("a database file replaced by another, or its WAL deleted, is found by /ready; a file moved back is written again", async () => {
    const { path, store } = sqliteFile();
    const server = await serve(store);
    const other = sqliteFile();
    await other.store.close();

    renameSync(path, `${path}.moved`);
    renameSync(other.path, path);
    const replaced = new RegExp(`^the database file ${path} was deleted or replaced`);
    expectStoreUnavailable(await server.ready(), replaced, "/ready after the file was replaced");
    expectStoreUnavailable(await server.post(), replaced, "ingest after the file was replaced");

    // The original file, moved back, is the file Herald has open: writes go on.
    renameSync(`${path}.moved`, path);
    expect((await server.ready()).statusCode).toBe(200);
    expect((await server.post()).statusCode).toBe(202);

    rmSync(`${path}-wal`);
    expectStoreUnavailable(await server.ready(), new RegExp(`^the database file ${path}-wal was deleted or replaced`), "/ready after the WAL was deleted");
    expectStoreUnavailable(await server.post(), /-wal was deleted or replaced/, "ingest after the WAL was deleted");
  });

  itOnSqliteOnly("the database file and its -wal and -shm are 0600, in a fresh data folder and when an existing file was 0644", async () => {
    const modes = (dir: string) => ["herald.db", "herald.db-wal", "herald.db-shm"].map((file) => (statSync(join(dir, file)).mode & 0o777).toString(8));
    const server = await startTestServer();
    expect(modes(server.dataDir)).toEqual(["600", "600", "600"]);
    await server.close();

    chmodSync(join(server.dataDir, "herald.db"), 0o644);
    const again = await startTestServer({}, server.dataDir);
    expect(modes(again.dataDir)).toEqual(["600", "600", "600"]);
  });
});

describeOnPostgresOnly("store faults on PostgreSQL", () => {
  let database: TestDatabase;

  /** Runs `sql` on the test database's server as an administrator would, then ends Herald's sessions so its pool reconnects under the new setting. */
  async function administer(sql: string): Promise<void> {
    // Its own session stays writable, so it can undo what it did.
    const client = new pg.Client({ connectionString: database.url, options: "-c default_transaction_read_only=off" });
    await client.connect();
    try {
      await client.query(sql);
      await client.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [database.name]);
    } finally {
      await client.end();
    }
  }

  /** A store on a database of its own; `errors` collects what its pool reports (idle connections ended). */
  async function openStore() {
    database = await createTestDatabase();
    const drop = database.drop;
    cleanups.push(() => drop()); // runs after the server's and store's own cleanups: their connections are closed by then
    const errors: unknown[] = [];
    const store = await PostgresStore.open({
      connectionString: database.url, secretBox: makeSecretBox(randomBytes(32)), poolSize: 4, onError: (error) => errors.push(error),
    });
    cleanups.push(() => store.close());
    return store;
  }

  it("a read-only database answers 503 with Retry-After, /ready says so, and both recover once it is writable", async () => {
    const server = await serve(await openStore());
    const receiver = await startReceiver();
    await server.herald.webhooks.create({ url: receiver.url });
    expect((await server.post({ n: 1 })).statusCode).toBe(202);
    await expect.poll(() => receiver.bodies.length).toBe(1);

    await administer(`ALTER DATABASE "${database.name}" SET default_transaction_read_only = on`);
    const readOnly = /^the store cannot write: the database is read-only .*\(25006 read_only_sql_transaction\); nothing was accepted; point HERALD_DATABASE_URL at the primary/;
    // The first calls may still meet a connection being ended (57P01): also a fault, also 503.
    await expect.poll(async () => (await server.post()).json().detail, { timeout: 10_000 }).toMatch(readOnly);
    expectStoreUnavailable(await server.post({ n: 2 }), readOnly, "ingest on a read-only database");
    expectStoreUnavailable(await server.ready(), readOnly, "/ready on a read-only database");
    expect(faultsReported(server).filter((message) => readOnly.test(message))).toHaveLength(1);

    await administer(`ALTER DATABASE "${database.name}" RESET default_transaction_read_only`);
    await expect.poll(async () => (await server.post({ n: 3 })).statusCode, { timeout: 10_000 }).toBe(202);
    expect((await server.ready()).statusCode).toBe(200);
    await expect.poll(() => receiver.bodies.some((body) => body.includes('"n":3')), { timeout: 10_000 }).toBe(true);
    expect(receiver.bodies.some((body) => body.includes('"n":2'))).toBe(false); // refused, so never delivered
  });

  it("a connection ended between two statements of a transaction fails it as a store fault, and the process lives on", async () => {
    const store = await openStore();
    const runner = new PostgresRunner(store.pool);
    const failed = runner.transaction(async (tx) => {
      const { pid } = (await tx.get<{ pid: number }>("SELECT pg_backend_pid() AS pid"))!;
      const admin = new pg.Client({ connectionString: database.url });
      await admin.connect();
      await admin.query("SELECT pg_terminate_backend($1)", [pid]).finally(() => admin.end());
      await new Promise((resolve) => setTimeout(resolve, 300)); // the server's FATAL arrives between statements
      return tx.get("SELECT 1");
    });
    await expect(failed).rejects.toMatchObject({ code: "HERALD_ERR_STORE_UNAVAILABLE", message: expect.stringMatching(/connection to PostgreSQL was lost/) });
    expect(await store.getTenant("none")).toBeNull(); // the pool dropped that connection and goes on
  });
});
