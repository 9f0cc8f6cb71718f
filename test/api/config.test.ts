import { resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { CONFIG_VARIABLES, loadConfig } from "../../src/config/load-config.js";
import { HeraldError } from "../../src/errors.js";

function configError(env: Record<string, string>): HeraldError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof HeraldError) return error;
    throw error;
  }
  throw new Error("loadConfig accepted the configuration");
}

describe("loadConfig", () => {
  test("defaults match SPEC section 5", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8080, host: "127.0.0.1", databaseUrl: "sqlite:./data/herald.db", dataDir: resolve("./data"), adminApiKey: null, secretKey: null,
      globalWebhook: null, defaultWalletEnabled: true, defaultWalletWebhook: null, defaultWalletApiKey: null, allowPrivateTargets: false,
      retentionDays: 30, cleanupIntervalMs: 86_400_000, role: "all", logLevel: "info", rateLimitPerSecond: 100, rateLimitBurst: 200,
      maxBodyBytes: 1_048_576,
    });
  });

  test("reads every variable, and the data folder defaults to the SQLite file's folder", () => {
    const config = loadConfig({
      PORT: "9090", HOST: "0.0.0.0", HERALD_DATABASE_URL: "sqlite:/tmp/x/h.db", HERALD_ADMIN_API_KEY: "a".repeat(20),
      HERALD_SECRET_KEY: "ab".repeat(32), GLOBAL_WEBHOOK_URL: "https://example.com/g", GLOBAL_WEBHOOK_API_KEY: "tok",
      DEFAULT_WALLET_ENABLED: "false", DEFAULT_WALLET_WEBHOOK_URL: "https://example.com/w", DEFAULT_WALLET_WEBHOOK_API_KEY: "wtok",
      DEFAULT_WALLET_AUTH_API_KEY: "w".repeat(20), HERALD_ALLOW_PRIVATE_TARGETS: "true", HERALD_RETENTION_DAYS: "7",
      HERALD_CLEANUP_INTERVAL_MS: "60000", HERALD_ROLE: "worker", HERALD_LOG_LEVEL: "debug", HERALD_RATE_LIMIT_PER_SECOND: "5",
      HERALD_MAX_BODY_BYTES: "4096",
    });
    expect(config).toMatchObject({
      port: 9090, host: "0.0.0.0", dataDir: "/tmp/x", globalWebhook: { url: "https://example.com/g", apiKey: "tok" },
      defaultWalletEnabled: false, defaultWalletWebhook: { url: "https://example.com/w", apiKey: "wtok" }, allowPrivateTargets: true,
      retentionDays: 7, cleanupIntervalMs: 60_000, role: "worker", logLevel: "debug", rateLimitPerSecond: 5, rateLimitBurst: 10, maxBodyBytes: 4096,
    });
    expect(loadConfig({ HERALD_DATA_DIR: "/tmp/elsewhere" }).dataDir).toBe("/tmp/elsewhere");
    expect(loadConfig({ HERALD_DATABASE_URL: "postgres://u@h/db" }).dataDir).toBe(resolve("./data"));
  });

  test("the older WEBHOOK_URL / WEBHOOK_API_KEY are read when the GLOBAL_ names are unset", () => {
    expect(loadConfig({ WEBHOOK_URL: "http://example.com/old", WEBHOOK_API_KEY: "k" }).globalWebhook).toEqual({ url: "http://example.com/old", apiKey: "k", payloadFormat: "identus" });
    expect(loadConfig({ WEBHOOK_URL: "http://example.com/old", GLOBAL_WEBHOOK_URL: "http://example.com/new" }).globalWebhook?.url).toBe("http://example.com/new");
  });

  test("flags (overrides) win over the environment", () => {
    expect(loadConfig({ PORT: "1" }, { PORT: 2 }).port).toBe(2);
    expect(loadConfig({}, { HERALD_ALLOW_PRIVATE_TARGETS: true }).allowPrivateTargets).toBe(true);
  });

  test("HERALD_HTTPS_ONLY makes the server refuse http:// webhook URLs", () => {
    expect(loadConfig({}).httpsOnly).toBe(false);
    expect(loadConfig({ HERALD_HTTPS_ONLY: "true" }).httpsOnly).toBe(true);
  });

  test.each([
    ["PORT", "eighty"], ["PORT", "70000"], ["HERALD_DATABASE_URL", "mysql://x"], ["HERALD_SECRET_KEY", "short"],
    ["HERALD_ADMIN_API_KEY", "short"], ["GLOBAL_WEBHOOK_URL", "not a url"], ["GLOBAL_WEBHOOK_URL", "ftp://x"],
    ["DEFAULT_WALLET_ENABLED", "maybe"], ["HERALD_ALLOW_PRIVATE_TARGETS", "sure"], ["HERALD_HTTPS_ONLY", "yes please"], ["HERALD_RETENTION_DAYS", "0"],
    ["HERALD_CLEANUP_INTERVAL_MS", "5"], ["HERALD_ROLE", "boss"], ["HERALD_LOG_LEVEL", "loud"],
    ["HERALD_RATE_LIMIT_PER_SECOND", "-1"], ["HERALD_MAX_BODY_BYTES", "10"], ["DEFAULT_WALLET_AUTH_API_KEY", "has space in it ok"],
  ])("a bad %s (%s) fails with one line naming the variable", (variable, value) => {
    const error = configError({ [variable]: value });
    expect(error.code).toBe("HERALD_ERR_CONFIG");
    expect(error.field).toBe(variable);
    expect(error.message.startsWith(`${variable}:`)).toBe(true);
    expect(error.message).not.toContain("\n");
  });

  test("an API key without its URL is refused, naming both variables", () => {
    const error = configError({ GLOBAL_WEBHOOK_API_KEY: "tok" });
    expect(error.field).toBe("GLOBAL_WEBHOOK_API_KEY");
    expect(error.message).toContain("GLOBAL_WEBHOOK_URL");
  });

  test("every variable has a flag for herald serve", () => {
    const envs = CONFIG_VARIABLES.map((v) => v.env);
    expect(new Set(envs).size).toBe(envs.length);
    expect(CONFIG_VARIABLES.every((v) => v.flag.startsWith("--"))).toBe(true);
    expect(envs).toEqual(expect.arrayContaining(["PORT", "HOST", "HERALD_DATABASE_URL", "HERALD_ROLE", "GLOBAL_WEBHOOK_URL", "HERALD_DATA_DIR"]));
  });
});
