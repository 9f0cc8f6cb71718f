/**
 * What the dashboard's browser tests need: a real Herald server in a temp data folder, on the
 * project's backend (a SQLite file, or its own PostgreSQL database in the postgres project), a
 * real receiver on 127.0.0.1 that can be told to fail, and Debian's Chromium driven by playwright-core.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { startServer } from "../../src/api/server.js";
import { loadConfig } from "../../src/config/load-config.js";
import type { Herald } from "../../src/herald.js";
import { makeSecretBox, parseMasterKey } from "../../src/secrets/secret-box.js";
import { openStore, parseDatabaseUrl } from "../../src/store/open-store.js";
import type { Store } from "../../src/store/store.js";
import { dropServerDatabase, serverDatabaseUrl } from "../helpers/backends.js";
import { watchForLeaks } from "../setup/leak-detector.js";

export const CHROMIUM_PATH = "/usr/bin/chromium";

/**
 * Where the browser tests save their screenshots: docs/img with HERALD_UPDATE_SCREENSHOTS=1 (to
 * refresh docs/dashboard.md's pictures), else a temp folder, so `npm test` leaves the tree clean.
 */
export const SCREENSHOTS =
  process.env.HERALD_UPDATE_SCREENSHOTS === "1"
    ? fileURLToPath(new URL("../../docs/img/", import.meta.url))
    : join(mkdtempSync(join(tmpdir(), "herald-screenshots-")), "/");

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"],
  });
}

/**
 * Collects the page's script errors and console errors, for a test to assert none: a broken module
 * would otherwise just render nothing. Refused requests (401, 404) are expected in these tests.
 */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error" && !/status of (401|404)/.test(message.text())) errors.push(message.text());
  });
  return errors;
}

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

/** A webhook receiver whose answers are scripted: each request takes the next status from `plan`, then `thereafter`. */
export interface TestReceiver {
  url: string;
  received: ReceivedRequest[];
  plan: number[];
  thereafter: number;
  close(): Promise<void>;
}

export async function startReceiver(plan: number[] = [], thereafter = 200): Promise<TestReceiver> {
  const receiver: TestReceiver = { url: "", received: [], plan: [...plan], thereafter, close: async () => {} };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      receiver.received.push({ method: request.method ?? "", url: request.url ?? "", headers: request.headers, body: Buffer.concat(chunks).toString("utf8") });
      const status = receiver.plan.shift() ?? receiver.thereafter;
      const body = status >= 200 && status <= 299 ? { ok: true, received: receiver.received.length } : { error: "temporarily broken", hint: "<b>not markup</b>" };
      response.writeHead(status, { "content-type": "application/json", "x-receiver": "dashboard-test" });
      response.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  receiver.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return receiver;
}

export interface TestHerald {
  url: string;
  adminKey: string;
  tenantKey: string;
  /** The engine behind the server. */
  engine: Herald;
  /**
   * A second store on the server's data, as another process would open, for seeding data the
   * API cannot backdate (the engine exposes no store); closed with the server.
   */
  openStore(): Promise<Store>;
  /** Calls the API with the tenant key, as a producer would; `body` is the parsed JSON, read as freely as light-my-request's `json()`. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any route's answer, checked by the test's own assertions
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/** role "api": no delivery worker, so seeded deliveries are not picked up and sent. */
export async function startHerald(options: { role?: "all" | "api" } = {}): Promise<TestHerald> {
  const dataDir = mkdtempSync(join(tmpdir(), "herald-dashboard-"));
  const adminKey = "admin-key-for-dashboard-tests-0123456789";
  const tenantKey = "tenant-key-for-dashboard-tests-0123456789";
  const databaseUrl = await serverDatabaseUrl(dataDir);
  const config = loadConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    HERALD_DATABASE_URL: databaseUrl,
    HERALD_DATA_DIR: dataDir,
    HERALD_ADMIN_API_KEY: adminKey,
    DEFAULT_WALLET_AUTH_API_KEY: tenantKey,
    HERALD_ALLOW_PRIVATE_TARGETS: "true",
    HERALD_LOG_LEVEL: "silent",
    // The dashboard polls several lists at once; the test should exercise the pages, not the limiter.
    HERALD_RATE_LIMIT_PER_SECOND: "0",
    HERALD_ROLE: options.role ?? "all",
  });
  const server = await startServer(config, { print: () => {} });
  const stores: Store[] = [];
  const herald: TestHerald = {
    url: server.url,
    adminKey,
    tenantKey,
    engine: server.herald,
    async openStore() {
      const secret = readFileSync(join(dataDir, "secret.key"), "utf8");
      const store = await openStore(parseDatabaseUrl(databaseUrl), makeSecretBox(parseMasterKey(secret, "secret.key")));
      stores.push(store);
      return store;
    },
    async api(method, path, body) {
      const response = await fetch(server.url + path, {
        method,
        headers: { authorization: `Bearer ${tenantKey}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : null };
    },
    async close() {
      running.delete(herald);
      for (const store of stores.splice(0)) await store.close();
      await server.close();
      await dropServerDatabase(dataDir);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  running.add(herald);
  return herald;
}

const running = new Set<TestHerald>();
watchForLeaks("a Herald server from startHerald that was not closed", () => [...running]);
