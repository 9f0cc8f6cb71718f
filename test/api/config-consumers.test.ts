/**
 * Configuration reaches what it configures (issue 11): every documented variable is parsed into
 * the resolved configuration, every field of it is read by the server or the engine, and the
 * retention variables, once ignored, now delete records on the configured schedule.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { CONFIG_VARIABLES, loadConfig, type HeraldConfig } from "../../src/config/load-config.js";
import { startServer } from "../../src/api/server.js";
import { serverDatabaseUrl } from "../helpers/backends.js";
import { closeAll, makeTempDir, runSql, startReceiver, startTestServer } from "./helpers.js";

afterEach(closeAll);

/** A valid value other than the default for each documented variable. */
const NON_DEFAULT: Record<string, string> = {
  PORT: "9191", HOST: "0.0.0.0", HERALD_DATABASE_URL: "sqlite:/tmp/herald-config-test/h.db", HERALD_DATA_DIR: "/tmp/herald-config-dir",
  HERALD_ADMIN_API_KEY: "a".repeat(24), HERALD_SECRET_KEY: "ab".repeat(32), GLOBAL_WEBHOOK_URL: "https://example.com/g",
  GLOBAL_WEBHOOK_API_KEY: "tok", DEFAULT_WALLET_ENABLED: "false", DEFAULT_WALLET_WEBHOOK_URL: "https://example.com/w",
  GLOBAL_WEBHOOK_PAYLOAD_FORMAT: "prism", DEFAULT_WALLET_WEBHOOK_PAYLOAD_FORMAT: "agentfactory",
  DEFAULT_WALLET_WEBHOOK_API_KEY: "wtok", DEFAULT_WALLET_AUTH_API_KEY: "w".repeat(24), HERALD_ALLOW_PRIVATE_TARGETS: "true",
  HERALD_HTTPS_ONLY: "true", HERALD_DENIED_PORTS: "22,8081", HERALD_PROXY_URL: "http://127.0.0.1:3128", HERALD_NO_PROXY: ".internal", HERALD_RETENTION_DAYS: "7", HERALD_CLEANUP_INTERVAL_MS: "60000", HERALD_IDEMPOTENCY_WINDOW_MS: "3600000",
  HERALD_ROLE: "worker", HERALD_LOG_LEVEL: "debug", HERALD_RATE_LIMIT_PER_SECOND: "5", HERALD_RATE_LIMIT_BURST: "7", HERALD_MAX_BODY_BYTES: "4096",
};

/** Variables read only together with another. */
const NEEDS: Record<string, Record<string, string>> = {
  GLOBAL_WEBHOOK_API_KEY: { GLOBAL_WEBHOOK_URL: "https://example.com/g" },
  DEFAULT_WALLET_WEBHOOK_API_KEY: { DEFAULT_WALLET_WEBHOOK_URL: "https://example.com/w" },
  GLOBAL_WEBHOOK_PAYLOAD_FORMAT: { GLOBAL_WEBHOOK_URL: "https://example.com/g" },
  DEFAULT_WALLET_WEBHOOK_PAYLOAD_FORMAT: { DEFAULT_WALLET_WEBHOOK_URL: "https://example.com/w" },
};

/** The configuration with every field read recorded. */
function recording(config: Readonly<HeraldConfig>): { config: Readonly<HeraldConfig>; read: Set<string> } {
  const read = new Set<string>();
  const proxy = new Proxy(config, {
    get(target, property, receiver) {
      if (typeof property === "string") read.add(property);
      return Reflect.get(target, property, receiver);
    },
    ownKeys() {
      throw new Error("the configuration was copied whole (spread or Object.keys): read the fields you use");
    },
  });
  return { config: proxy, read };
}

describe("every documented variable has a consumer", () => {
  test("the README's configuration table and `herald serve --help` list the same variables", () => {
    const readme = readFileSync(join(import.meta.dirname, "../../README.md"), "utf8");
    const documented = [...readme.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
    expect(new Set(documented)).toEqual(new Set(CONFIG_VARIABLES.map((v) => v.env)));
  });

  test.each(CONFIG_VARIABLES.map((v) => v.env))("%s changes the resolved configuration", (variable) => {
    const value = NON_DEFAULT[variable];
    expect(value, `NON_DEFAULT has no value for ${variable}`).toBeDefined();
    const needs = NEEDS[variable] ?? {};
    const changed = loadConfig({ ...needs, [variable]: value! });
    const base = loadConfig(needs);
    expect(changed).not.toEqual(base);
  });

  test("every field of the resolved configuration is read by the server and the engine at start", async () => {
    const dir = makeTempDir();
    const receiver = await startReceiver();
    const { config, read } = recording(
      loadConfig({
        HERALD_DATABASE_URL: await serverDatabaseUrl(dir), HERALD_DATA_DIR: dir, HERALD_LOG_LEVEL: "silent", HERALD_ALLOW_PRIVATE_TARGETS: "true", PORT: "0",
        DEFAULT_WALLET_WEBHOOK_URL: `${receiver.url}/wallet`, GLOBAL_WEBHOOK_URL: `${receiver.url}/global`,
      }),
    );
    const server = await startServer(config, { print: () => undefined });
    try {
      const fields = Object.keys(loadConfig({}));
      expect(fields.filter((field) => !read.has(field))).toEqual([]);
    } finally {
      await server.close();
      await receiver.close();
    }
  });
});

describe("retention", () => {
  test("HERALD_RETENTION_DAYS and HERALD_CLEANUP_INTERVAL_MS reach the engine: a record older than the configured days is removed", async () => {
    const receiver = await startReceiver();
    const server = await startTestServer({ HERALD_RETENTION_DAYS: "1", HERALD_CLEANUP_INTERVAL_MS: "1000" });
    expect(server.herald.config.retention).toEqual({ retentionDays: 1, intervalMs: 1_000 });
    await server.herald.webhooks.create({ url: receiver.url });
    const old = await server.herald.trigger("custom", { age: "two days" });
    const young = await server.herald.trigger("custom", { age: "twelve hours" });
    await receiver.waitFor(2);
    const [oldId, youngId] = [old.deliveries[0]!, young.deliveries[0]!];
    const done = async (id: string) => (await server.herald.deliveries.get(id)).state === "succeeded";
    for (let i = 0; i < 100 && !((await done(oldId)) && (await done(youngId))); i++) await new Promise((r) => setTimeout(r, 20));
    // Age the records as time would: a second connection to the same database, as an operator's tool would have.
    const now = Date.now();
    const age = "UPDATE deliveries SET completed_at = ?, created_at = ? WHERE id = ?";
    await runSql(server, age, [now - 2 * 86_400_000, now - 2 * 86_400_000, oldId]);
    await runSql(server, age, [now - 12 * 3_600_000, now - 12 * 3_600_000, youngId]);
    let gone = false;
    for (let i = 0; i < 150 && !gone; i++) {
      await new Promise((r) => setTimeout(r, 20));
      gone = await server.herald.deliveries.get(oldId).then(() => false, (error: { code?: string }) => error.code === "HERALD_ERR_DELIVERY_NOT_FOUND");
    }
    expect(gone).toBe(true);
    expect((await server.herald.deliveries.get(youngId)).state).toBe("succeeded");
  });
});
