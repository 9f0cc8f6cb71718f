/**
 * Shared test setup: a server on a temp data folder and port 0, and a real receiver on 127.0.0.1.
 * The server's store follows the project's backend (serverDatabaseUrl): a SQLite file in the
 * data folder, or a PostgreSQL database of its own in the postgres project.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import Database from "better-sqlite3";
import pg from "pg";
import { expect } from "vitest";
import { loadConfig } from "../../src/config/load-config.js";
import { startServer, type RunningServer } from "../../src/api/server.js";
import { errorCatalogue, type HeraldErrorCode } from "../../src/errors.js";
import { dropServerDatabases, serverDatabaseUrl } from "../helpers/backends.js";
import { watchForLeaks } from "../setup/leak-detector.js";

export function makeTempDir(): string {
  return mkdtempSync(join(tmpdir(), "herald-api-"));
}

export interface TestServer extends RunningServer {
  dataDir: string;
  /** HERALD_DATABASE_URL the server runs on. */
  databaseUrl: string;
  printed: string[];
}

const opened: Array<{ close(): Promise<void> }> = [];
const dirs: string[] = [];
watchForLeaks("a server or receiver from test/api/helpers.ts that closeAll did not close", () => opened);

/** Starts a server as `herald serve` would, with the given environment on top of test defaults. */
export async function startTestServer(env: Record<string, string> = {}, dataDir = makeTempDir()): Promise<TestServer> {
  const databaseUrl = await serverDatabaseUrl(dataDir);
  const config = loadConfig({
    HERALD_DATABASE_URL: databaseUrl,
    HERALD_DATA_DIR: dataDir,
    HERALD_LOG_LEVEL: "silent",
    HERALD_ALLOW_PRIVATE_TARGETS: "true",
    PORT: "0",
    ...env,
  });
  const printed: string[] = [];
  const server = await startServer(config, { print: (line) => printed.push(line), dispatch: { pollIntervalMs: 20 } });
  opened.push(server);
  dirs.push(dataDir);
  return Object.assign(server, { dataDir, databaseUrl, printed });
}

/**
 * Runs one statement on a server's database from outside, as an operator's tool would (to age
 * records past retention, say). `?` placeholders, as SQLite writes them; numbered for PostgreSQL.
 */
export async function runSql(server: TestServer, sql: string, params: unknown[]): Promise<void> {
  if (server.databaseUrl.startsWith("sqlite:")) {
    const db = new Database(server.databaseUrl.slice("sqlite:".length));
    try {
      db.prepare(sql).run(...params);
    } finally {
      db.close();
    }
    return;
  }
  let n = 0;
  const client = new pg.Client({ connectionString: server.databaseUrl });
  await client.connect();
  try {
    await client.query(sql.replace(/\?/g, () => `$${++n}`), params);
  } finally {
    await client.end();
  }
}

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Receiver {
  url: string;
  requests: ReceivedRequest[];
  /** Status to answer with (default 200). */
  status: number;
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(receiver.status, { "content-type": "text/plain" }).end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const receiver: Receiver = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    requests,
    status: 200,
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (requests.length < count) {
        if (Date.now() > deadline) throw new Error(`receiver got ${requests.length} requests, expected ${count}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return requests;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  opened.push(receiver);
  return receiver;
}

/** Closes every server and receiver opened by the test and removes their folders; call in afterEach. */
export async function closeAll(): Promise<void> {
  while (opened.length > 0) await opened.pop()!.close();
  await dropServerDatabases();
  while (dirs.length > 0) rmSync(dirs.pop()!, { recursive: true, force: true });
}

export function adminHeaders(server: RunningServer): Record<string, string> {
  return { "x-admin-api-key": server.adminApiKey };
}

export function tenantHeaders(server: RunningServer): Record<string, string> {
  if (!server.defaultTenantApiKey) throw new Error("no default tenant key");
  return { apikey: server.defaultTenantApiKey };
}

/** A second tenant with its own key, made through the admin API. */
export async function makeTenant(server: RunningServer, name = "other"): Promise<{ id: string; headers: Record<string, string> }> {
  const response = await server.app.inject({ method: "POST", url: "/v1/tenants", headers: adminHeaders(server), payload: { name } });
  if (response.statusCode !== 201) throw new Error(`tenant creation failed: ${response.body}`);
  const body = response.json<{ id: string; apiKey: { key: string } }>();
  return { id: body.id, headers: { authorization: `Bearer ${body.apiKey.key}` } };
}

/**
 * An error answer, asserted on its stable code (fastify's way: the code, not the message): the
 * problem body's `code`, and the status the catalogue gives that code, in the body and the reply.
 */
export function expectProblem(response: { statusCode: number; json(): unknown }, code: HeraldErrorCode, what?: string): void {
  const body = response.json() as { code?: unknown; status?: unknown };
  expect({ statusCode: response.statusCode, status: body.status, code: body.code }, what).toEqual({
    statusCode: errorCatalogue[code],
    status: errorCatalogue[code],
    code,
  });
}
