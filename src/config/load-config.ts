/**
 * The server's configuration (SPEC section 5): every variable read from the environment, or
 * from the matching `herald serve` flag, and checked once at start. A bad value fails with one
 * line naming the variable and the fix, so a misconfigured deployment stops before it listens.
 */
import { resolve } from "node:path";
import { deepFreeze } from "../domain/deep-freeze.js";
import type { PayloadFormat } from "../domain/types.js";
import { PAYLOAD_FORMATS } from "../domain/webhook-input.js";
import { parseNoProxy } from "../dispatch/no-proxy.js";
import { configError } from "../errors.js";
import type { HeraldOptions } from "../engine/options.js";
import { parseMasterKey } from "../secrets/secret-box.js";
import { DEFAULT_DENIED_PORTS } from "../security/target-guard.js";
import { DEFAULT_DATABASE_URL, parseDatabaseUrl } from "../store/open-store.js";
import { type OtlpTracingConfig, otlpTracingFromEnv } from "../tracing/otlp-env.js";

export type HeraldRole = "all" | "api" | "worker";
export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export interface EnvWebhook {
  url: string;
  /** Sent as `Authorization: Bearer <apiKey>`; null for no auth. */
  apiKey: string | null;
  /** The body's shape; `identus` unless *_PAYLOAD_FORMAT says otherwise (`prism` for seed 000's receivers). */
  payloadFormat: PayloadFormat;
}

export interface HeraldConfig {
  port: number;
  host: string;
  databaseUrl: string;
  /** Where secret.key, admin.key, default-tenant.key and server.json live. */
  dataDir: string;
  /** null: generated into `<dataDir>/admin.key` on first start. */
  adminApiKey: string | null;
  /** null: generated into `<dataDir>/secret.key` on first start. */
  secretKey: string | null;
  globalWebhook: EnvWebhook | null;
  defaultWalletEnabled: boolean;
  /** Applied only when the default tenant is first created. */
  defaultWalletWebhook: EnvWebhook | null;
  /** null: generated into `<dataDir>/default-tenant.key` and printed once. */
  defaultWalletApiKey: string | null;
  allowPrivateTargets: boolean;
  httpsOnly: boolean;
  /** Ports no webhook may reach, on any host. */
  deniedPorts: number[];
  /** Forward proxy for webhooks without their own proxyUrl; null: none. May carry credentials: never printed. */
  proxyUrl: string | null;
  /** Hosts that bypass proxyUrl (NO_PROXY rules); "" for none. */
  noProxy: string;
  retentionDays: number;
  cleanupIntervalMs: number;
  /** An event id or Idempotency-Key seen within this window returns the original event. */
  idempotencyWindowMs: number;
  role: HeraldRole;
  logLevel: LogLevel;
  /** Requests per second per API key; 0 turns the limit off. */
  rateLimitPerSecond: number;
  /** Requests a key may make at once above its steady rate. */
  rateLimitBurst: number;
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: number;
  /** OTLP trace export, from the standard OTEL_* variables (src/tracing/otlp-env.ts); null: off. */
  tracing: OtlpTracingConfig | null;
}

export interface ConfigVariable {
  env: string;
  /** The `herald serve` flag, commander style. */
  flag: string;
  description: string;
  default: string;
  /** A switch: `--flag` alone means true. */
  boolean?: true;
}

/**
 * Every variable, in the order `herald serve --help` should list them. Older names (WEBHOOK_URL,
 * WEBHOOK_API_KEY) are read but have no flag; they are only older spellings of the GLOBAL_ ones,
 * so their webhook gets the identus body too unless GLOBAL_WEBHOOK_PAYLOAD_FORMAT says prism.
 * The name used does not choose the body: an operator renaming the variable would otherwise
 * change what the receiver gets without being told.
 */
export const CONFIG_VARIABLES: readonly ConfigVariable[] = [
  { env: "PORT", flag: "--port <port>", description: "HTTP listen port", default: "8080" },
  { env: "HOST", flag: "--host <host>", description: "HTTP listen address", default: "127.0.0.1" },
  { env: "HERALD_DATABASE_URL", flag: "--database-url <url>", description: "sqlite:<path> (embedded) or postgres://... (scale-out)", default: DEFAULT_DATABASE_URL },
  { env: "HERALD_DATA_DIR", flag: "--data-dir <dir>", description: "folder for generated keys and server.json", default: "the SQLite file's folder, else ./data" },
  { env: "HERALD_ADMIN_API_KEY", flag: "--admin-api-key <key>", description: "admin key, sent in header x-admin-api-key", default: "generated on first start into <data-dir>/admin.key" },
  { env: "HERALD_SECRET_KEY", flag: "--secret-key <key>", description: "master key (32 bytes, hex or base64) that encrypts stored secrets", default: "generated into <data-dir>/secret.key" },
  { env: "GLOBAL_WEBHOOK_URL", flag: "--global-webhook-url <url>", description: "webhook receiving every tenant's events (older name WEBHOOK_URL)", default: "unset" },
  { env: "GLOBAL_WEBHOOK_API_KEY", flag: "--global-webhook-api-key <key>", description: "bearer token sent to the global webhook (older name WEBHOOK_API_KEY)", default: "unset" },
  {
    env: "GLOBAL_WEBHOOK_PAYLOAD_FORMAT", flag: "--global-webhook-payload-format <format>",
    description: `body of the global webhook, also when set through WEBHOOK_URL: ${PAYLOAD_FORMATS.join(", ")} (prism: seed 000's PRISM Agent)`, default: "identus",
  },
  { env: "DEFAULT_WALLET_ENABLED", flag: "--default-wallet-enabled <bool>", description: "create the default tenant at start", default: "true" },
  { env: "DEFAULT_WALLET_WEBHOOK_URL", flag: "--default-wallet-webhook-url <url>", description: "default tenant's webhook, applied when the tenant is first created", default: "unset" },
  { env: "DEFAULT_WALLET_WEBHOOK_API_KEY", flag: "--default-wallet-webhook-api-key <key>", description: "bearer token for the default tenant's webhook", default: "unset" },
  {
    env: "DEFAULT_WALLET_WEBHOOK_PAYLOAD_FORMAT", flag: "--default-wallet-webhook-payload-format <format>",
    description: `body of the default tenant's webhook, applied when the tenant is first created: ${PAYLOAD_FORMATS.join(", ")}`, default: "identus",
  },
  { env: "DEFAULT_WALLET_AUTH_API_KEY", flag: "--default-wallet-auth-api-key <key>", description: "API key of the default tenant", default: "generated into <data-dir>/default-tenant.key" },
  { env: "HERALD_ALLOW_PRIVATE_TARGETS", flag: "--allow-private-targets", description: "allow webhook URLs on loopback/private/link-local addresses", default: "false", boolean: true },
  { env: "HERALD_HTTPS_ONLY", flag: "--https-only", description: "refuse webhook URLs that are not https://", default: "false", boolean: true },
  {
    env: "HERALD_DENIED_PORTS", flag: "--denied-ports <list>",
    description: "comma-separated ports no webhook may reach on any host (SSH, mail, databases, brokers, caches); \"none\" for none", default: "22,25,3306,5432,6379,... (docs/security.md)",
  },
  {
    env: "HERALD_PROXY_URL", flag: "--proxy-url <url>",
    description: "forward proxy (http:// or https://, user:password@ allowed) for webhook requests, e.g. for a static egress IP; a webhook's proxyUrl overrides it", default: "unset",
  },
  { env: "HERALD_NO_PROXY", flag: "--proxy-bypass <list>", description: "comma-separated hosts, .domains, IPs, CIDR blocks or * that bypass HERALD_PROXY_URL", default: "unset" },
  { env: "HERALD_RETENTION_DAYS", flag: "--retention-days <days>", description: "days delivery records are kept", default: "30" },
  { env: "HERALD_CLEANUP_INTERVAL_MS", flag: "--cleanup-interval-ms <ms>", description: "how often old delivery records are removed", default: "86400000" },
  { env: "HERALD_IDEMPOTENCY_WINDOW_MS", flag: "--idempotency-window-ms <ms>", description: "how long an event id or Idempotency-Key returns the original event", default: "86400000 (24 h)" },
  { env: "HERALD_ROLE", flag: "--role <role>", description: "all (API + worker), api, or worker", default: "all" },
  { env: "HERALD_LOG_LEVEL", flag: "--log-level <level>", description: "fatal, error, warn, info, debug, trace or silent", default: "info" },
  { env: "HERALD_RATE_LIMIT_PER_SECOND", flag: "--rate-limit-per-second <n>", description: "API requests per second per API key (0: no limit)", default: "100" },
  { env: "HERALD_RATE_LIMIT_BURST", flag: "--rate-limit-burst <n>", description: "requests a key may make at once above its steady rate", default: "twice the per-second rate" },
  { env: "HERALD_MAX_BODY_BYTES", flag: "--max-body-bytes <bytes>", description: "largest request body accepted", default: "1048576" },
];

export type ConfigOverrides = Partial<Record<string, string | number | boolean | undefined>>;

/** A value from the overrides (flags) first, then the environment; blank counts as unset. */
function reader(env: NodeJS.ProcessEnv, overrides: ConfigOverrides) {
  return (name: string): string | undefined => {
    const raw = overrides[name] !== undefined ? String(overrides[name]) : env[name];
    const value = raw?.trim();
    return value === undefined || value === "" ? undefined : value;
  };
}

function parseInteger(variable: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw configError(variable, `${JSON.stringify(value)} is not valid; set a whole number from ${min} to ${max}`);
  }
  return n;
}

function parseNumber(variable: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw configError(variable, `${JSON.stringify(value)} is not valid; set a number from ${min} to ${max}`);
  }
  return n;
}

const TRUE = new Set(["true", "1", "yes", "on"]);
const FALSE = new Set(["false", "0", "no", "off"]);

function parsePorts(variable: string, value: string | undefined, fallback: readonly number[]): number[] {
  if (value === undefined) return [...fallback];
  if (value.toLowerCase() === "none") return [];
  return value.split(",").map((part) => {
    const port = Number(part.trim());
    if (!/^\d+$/.test(part.trim()) || port < 1 || port > 65535) {
      throw configError(variable, `${JSON.stringify(part.trim())} is not a port; set comma-separated ports from 1 to 65535, or none`);
    }
    return port;
  });
}

function parseBoolean(variable: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  const lower = value.toLowerCase();
  if (TRUE.has(lower)) return true;
  if (FALSE.has(lower)) return false;
  throw configError(variable, `${JSON.stringify(value)} is not a boolean; set true or false`);
}

function parseChoice<T extends string>(variable: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) throw configError(variable, `${JSON.stringify(value)} is not valid; set one of ${allowed.join(", ")}`);
  return value as T;
}

function parseWebhookUrl(variable: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw configError(variable, `${JSON.stringify(value)} is not a URL; set an absolute http:// or https:// URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw configError(variable, `must use http:// or https://, not ${url.protocol}`);
  return value;
}

/** The proxy URL is checked without ever echoing it: it may carry a password. */
function parseProxyUrl(variable: string, value: string | undefined): string | null {
  if (value === undefined) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw configError(variable, "is not a URL; set http://[user:password@]host:port of a forward proxy");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw configError(variable, `must use http:// or https://, not ${url.protocol}`);
  if ((url.pathname !== "/" && url.pathname !== "") || url.search || url.hash) {
    throw configError(variable, "must be only scheme, optional user:password@, host and port: a proxy URL has no path or query");
  }
  return value;
}

function parseNoProxyList(variable: string, value: string | undefined): string {
  if (value === undefined) return "";
  try {
    parseNoProxy(value);
  } catch (cause) {
    throw configError(variable, `${(cause as Error).message}; set comma-separated host names, .domains, IP addresses, CIDR blocks (10.0.0.0/8) or *`);
  }
  return value;
}

/** A bearer token or API key from the environment: one line, no spaces, so it fits in a header. */
function parseToken(variable: string, value: string | undefined, minLength = 1): string | null {
  if (value === undefined) return null;
  if (value.length < minLength || /[\s\0]/.test(value) || value.length > 4096) {
    throw configError(variable, `must be ${minLength > 1 ? `at least ${minLength} characters, ` : ""}at most 4096, without spaces or line breaks`);
  }
  return value;
}

function parseEnvWebhook(
  read: (name: string) => string | undefined,
  names: { url: string; apiKey: string; payloadFormat: string; olderUrl?: string; olderApiKey?: string },
): EnvWebhook | null {
  const urlName = read(names.url) !== undefined || !names.olderUrl ? names.url : names.olderUrl;
  const keyName = read(names.apiKey) !== undefined || !names.olderApiKey ? names.apiKey : names.olderApiKey;
  const url = read(urlName);
  const apiKey = parseToken(keyName, read(keyName));
  const formatText = read(names.payloadFormat);
  const payloadFormat = parseChoice(names.payloadFormat, formatText, PAYLOAD_FORMATS, "identus");
  if (url === undefined) {
    if (apiKey !== null) throw configError(keyName, `is set but ${names.url} is not; set ${names.url} too, or unset ${keyName}`);
    if (formatText !== undefined) {
      throw configError(names.payloadFormat, `is set but ${names.url} is not; set ${names.url} too, or unset ${names.payloadFormat}`);
    }
    return null;
  }
  return { url: parseWebhookUrl(urlName, url), apiKey, payloadFormat };
}

/** Reads and checks the whole configuration; `overrides` (keyed by variable name) come from `herald serve` flags and win over the environment. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: ConfigOverrides = {}): Readonly<HeraldConfig> {
  const read = reader(env, overrides);
  const databaseUrl = read("HERALD_DATABASE_URL") ?? DEFAULT_DATABASE_URL;
  const database = parseDatabaseUrl(databaseUrl);
  const dataDirValue = read("HERALD_DATA_DIR");
  const dataDir = dataDirValue !== undefined
    ? resolve(dataDirValue)
    : database.backend === "sqlite" && database.dataDir !== null ? database.dataDir : resolve("./data");

  const secretKey = read("HERALD_SECRET_KEY") ?? null;
  if (secretKey !== null) {
    try {
      parseMasterKey(secretKey, "HERALD_SECRET_KEY");
    } catch (cause) {
      throw configError("HERALD_SECRET_KEY", "must be 32 bytes as 64 hex characters or base64; make one with `openssl rand -hex 32`", cause);
    }
  }

  const rateLimitPerSecond = parseNumber("HERALD_RATE_LIMIT_PER_SECOND", read("HERALD_RATE_LIMIT_PER_SECOND"), 100, 0, 1_000_000);
  const rateLimitBurst = parseNumber(
    "HERALD_RATE_LIMIT_BURST", read("HERALD_RATE_LIMIT_BURST"), Math.max(rateLimitPerSecond * 2, 1), 1, 10_000_000,
  );

  return deepFreeze({
    port: parseInteger("PORT", read("PORT"), 8080, 0, 65_535),
    host: read("HOST") ?? "127.0.0.1",
    databaseUrl,
    dataDir,
    adminApiKey: parseToken("HERALD_ADMIN_API_KEY", read("HERALD_ADMIN_API_KEY"), 16),
    secretKey,
    globalWebhook: parseEnvWebhook(read, {
      url: "GLOBAL_WEBHOOK_URL", apiKey: "GLOBAL_WEBHOOK_API_KEY", payloadFormat: "GLOBAL_WEBHOOK_PAYLOAD_FORMAT",
      olderUrl: "WEBHOOK_URL", olderApiKey: "WEBHOOK_API_KEY",
    }),
    defaultWalletEnabled: parseBoolean("DEFAULT_WALLET_ENABLED", read("DEFAULT_WALLET_ENABLED"), true),
    defaultWalletWebhook: parseEnvWebhook(read, {
      url: "DEFAULT_WALLET_WEBHOOK_URL", apiKey: "DEFAULT_WALLET_WEBHOOK_API_KEY", payloadFormat: "DEFAULT_WALLET_WEBHOOK_PAYLOAD_FORMAT",
    }),
    defaultWalletApiKey: parseToken("DEFAULT_WALLET_AUTH_API_KEY", read("DEFAULT_WALLET_AUTH_API_KEY"), 16),
    allowPrivateTargets: parseBoolean("HERALD_ALLOW_PRIVATE_TARGETS", read("HERALD_ALLOW_PRIVATE_TARGETS"), false),
    httpsOnly: parseBoolean("HERALD_HTTPS_ONLY", read("HERALD_HTTPS_ONLY"), false),
    deniedPorts: parsePorts("HERALD_DENIED_PORTS", read("HERALD_DENIED_PORTS"), DEFAULT_DENIED_PORTS),
    proxyUrl: parseProxyUrl("HERALD_PROXY_URL", read("HERALD_PROXY_URL")),
    noProxy: parseNoProxyList("HERALD_NO_PROXY", read("HERALD_NO_PROXY")),
    retentionDays: parseInteger("HERALD_RETENTION_DAYS", read("HERALD_RETENTION_DAYS"), 30, 1, 36_500),
    cleanupIntervalMs: parseInteger("HERALD_CLEANUP_INTERVAL_MS", read("HERALD_CLEANUP_INTERVAL_MS"), 86_400_000, 1_000, 2_147_483_647),
    idempotencyWindowMs: parseInteger("HERALD_IDEMPOTENCY_WINDOW_MS", read("HERALD_IDEMPOTENCY_WINDOW_MS"), 86_400_000, 1_000, 365 * 86_400_000),
    role: parseChoice("HERALD_ROLE", read("HERALD_ROLE"), ["all", "api", "worker"] as const, "all"),
    logLevel: parseChoice("HERALD_LOG_LEVEL", read("HERALD_LOG_LEVEL"), ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const, "info"),
    rateLimitPerSecond,
    rateLimitBurst,
    maxBodyBytes: parseInteger("HERALD_MAX_BODY_BYTES", read("HERALD_MAX_BODY_BYTES"), 1_048_576, 1_024, 104_857_600),
    tracing: otlpTracingFromEnv(read),
  });
}

/**
 * The engine's share of the server configuration: every variable the engine consumes flows
 * through here (test/api/config.test.ts fails when a documented variable reaches no consumer).
 * The default tenant is made by the environment bootstrap, which knows DEFAULT_WALLET_ENABLED.
 */
export function engineOptionsFrom(config: Readonly<HeraldConfig>, secretKey: string): HeraldOptions {
  return {
    database: config.databaseUrl,
    secretKey,
    createDefaultTenant: false,
    allowPrivateTargets: config.allowPrivateTargets,
    httpsOnly: config.httpsOnly,
    deniedPorts: config.deniedPorts,
    proxyUrl: config.proxyUrl,
    noProxy: config.noProxy,
    retention: { retentionDays: config.retentionDays, intervalMs: config.cleanupIntervalMs },
    limits: { idempotencyWindowMs: config.idempotencyWindowMs },
  };
}
