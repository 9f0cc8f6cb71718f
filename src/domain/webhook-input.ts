/**
 * Checks and normalises what a caller gives to create or update a webhook. Every rejection is
 * a HeraldError naming the field and the fix; the library and the HTTP API share these rules.
 */
import { invalidField } from "../errors.js";
import { HMAC_SIGNATURE_FORMATS } from "../signing/body-hmac.js";
import { generateSigningSecret, isSigningSecret } from "../signing/standard-webhooks.js";
import { assertEventPatterns } from "./event-patterns.js";
import { checkProxyUrl, checkTls, maskProxyUrl, shownEgress, type PublicTls } from "./webhook-egress.js";
import { uuidv7 } from "./ids.js";
import { assertJsonValue, assertStorableText } from "./json-limits.js";
import { checkPayloadFilter } from "./payload-filter.js";
import { DEFAULT_RETRY_POLICY, DEFAULT_TIMEOUT_MS, resolveRetryPolicy, type RetryInput } from "./retry-policy.js";
import type { HmacSignatureFormat, HttpMethod, OAuth2AuthMethod, OAuth2Credentials, PayloadFormat, RetryPolicy, Webhook, WebhookAuth, WebhookKind, WebhookStatus } from "./types.js";
import {
  assertAuthHeaderFree, checkHeaderName, checkHeaderValue, checkHeaders, checkPublicHeaders, keepMaskedValues, keptPublicHeaders, mask, shownHeaders,
} from "./webhook-headers.js";

export interface WebhookInput {
  name?: string;
  url: string;
  description?: string;
  events?: string[];
  method?: HttpMethod;
  headers?: Record<string, string>;
  /**
   * Names of `headers` (any case) whose values are not secret: shown in API answers and attempt
   * records. Every other header value is masked there, whatever its name.
   */
  publicHeaders?: string[];
  auth?: { type: string; credentials?: Record<string, unknown> } | null;
  /** A partial policy over the default (or, on update, the current one), or `{preset: "agentfactory", ...}`. */
  retry?: RetryInput;
  timeoutMs?: number;
  status?: "active" | "inactive";
  payloadFormat?: PayloadFormat;
  rateLimitPerSecond?: number | null;
  maxConcurrency?: number;
  ordered?: boolean;
  /** Send the producer's W3C trace context to the receiver (docs/observability.md). Default false. */
  propagateTraceContext?: boolean;
  metadata?: Record<string, unknown>;
  /** A `whsec_` secret to use instead of a generated one. */
  secret?: string;
  /** The caller's own id for the webhook (Svix's endpoint `uid`), unique in its tenant. */
  uid?: string | null;
  /** Svix channels: only events sent to one of them reach it; null takes every event. */
  channels?: string[] | null;
  /** Payload filter over `{type, data, metadata}` (MongoDB query syntax, src/domain/payload-filter.ts); null or `{}`: none. */
  filter?: Record<string, unknown> | null;
  /** A forward proxy URL for this webhook, `"direct"` for none, or null for the server's HERALD_PROXY_URL. */
  proxyUrl?: string | null;
  /** mTLS: `{clientCert, clientKey, passphrase?, ca?}` in PEM, or `{ca}` alone; null for none. */
  tls?: { clientCert?: string; clientKey?: string; passphrase?: string; ca?: string } | null;
}

export type WebhookPatch = Partial<Omit<WebhookInput, "secret">> & { status?: WebhookStatus };

export const DEFAULT_MAX_CONCURRENCY = 10;
export const MAX_URL_LENGTH = 2048;
const METHODS: readonly HttpMethod[] = ["POST", "PUT", "PATCH"];
/** Every payload format, in the order the CLI, the dashboard and the errors list them. */
export const PAYLOAD_FORMATS: readonly PayloadFormat[] = ["identus", "prism", "standard", "systemprompt", "agentfactory", "svix"];
/**
 * One request per 100 s at the slowest: a limit below that (1e-300 is a positive number) would
 * leave every delivery after the first pending for good.
 */
export const MIN_RATE_LIMIT_PER_SECOND = 0.01;
export const MAX_RATE_LIMIT_PER_SECOND = 100_000;

const KNOWN_FIELDS = new Set([
  "name", "url", "description", "events", "method", "headers", "publicHeaders", "auth", "retry", "timeoutMs", "status",
  "payloadFormat", "rateLimitPerSecond", "maxConcurrency", "ordered", "metadata", "secret", "uid", "channels", "filter",
  "propagateTraceContext", "proxyUrl", "tls",
]);

const UID_PATTERN = /^[a-zA-Z0-9\-_.]{1,256}$/;
const MAX_CHANNELS = 10;
const CHANNEL_PATTERN = /^[a-zA-Z0-9\-_.:]{1,128}$/;

/** A caller's own id (Svix's `uid`): 1 to 256 letters, digits, `-`, `_` or `.`; null clears it. */
export function checkUid(value: unknown, field = "uid"): string | null {
  if (value === null) return null;
  if (typeof value !== "string" || !UID_PATTERN.test(value)) {
    throw invalidField(field, "must be null or 1 to 256 characters of letters, digits, -, _ and .");
  }
  return value;
}

/** Svix channels: null (every channel) or up to 10 names of letters, digits, `-`, `_`, `.` and `:`. */
export function checkChannels(value: unknown, field = "channels"): string[] | null {
  if (value === null) return null;
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_CHANNELS) {
    throw invalidField(field, `must be null (every channel) or a list of 1 to ${MAX_CHANNELS} channel names`);
  }
  value.forEach((channel, i) => {
    if (typeof channel !== "string" || !CHANNEL_PATTERN.test(channel)) {
      throw invalidField(`${field}[${i}]`, "must be 1 to 128 characters of letters, digits, -, _, . and :");
    }
  });
  return [...new Set(value as string[])];
}

export function checkUrl(value: unknown, field = "url"): string {
  if (typeof value !== "string" || value.length === 0) {
    throw invalidField(field, "is required: an absolute http:// or https:// URL");
  }
  if (value.length > MAX_URL_LENGTH) throw invalidField(field, `must be at most ${MAX_URL_LENGTH} characters`);
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw invalidField(field, `${JSON.stringify(value)} is not a URL; give an absolute http:// or https:// URL`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw invalidField(field, `must use http or https, not ${parsed.protocol.replace(":", "")}`);
  }
  assertStorableText(value, field);
  if (parsed.username || parsed.password) {
    throw invalidField(field, "must not carry credentials; use auth {type: \"basic\"} instead");
  }
  return value;
}

function checkString(field: string, value: unknown, max: number, allowEmpty = true): string {
  if (typeof value !== "string" || (!allowEmpty && value.trim() === "") || value.length > max) {
    throw invalidField(field, `must be a ${allowEmpty ? "" : "non-empty "}string of at most ${max} characters`);
  }
  assertStorableText(value, field);
  return value;
}

function checkInteger(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw invalidField(field, `must be a whole number from ${min} to ${max}; got ${JSON.stringify(value)}`);
  }
  return value;
}

function checkObject(field: string, value: unknown): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalidField(field, "must be a JSON object");
  }
  return value as Record<string, unknown>;
}

/** How a credential is checked beyond being a non-empty string: the header rules where it becomes a header name or value, else as storable text. */
type CredentialRule = (path: string, value: string) => unknown;

const storableCredential: CredentialRule = (path, value) => {
  if (/[\r\n]/.test(value)) throw invalidField(path, "must not hold line breaks");
  assertStorableText(value, path);
};

function credential(field: string, credentials: Record<string, unknown>, key: string, rule: CredentialRule, required = true): string | undefined {
  const value = credentials[key];
  const path = `${field}.credentials.${key}`;
  if (value === undefined && !required) return undefined;
  if (typeof value !== "string" || value.length === 0 || value.length > 4096) {
    throw invalidField(path, "is required: a non-empty string of at most 4096 characters");
  }
  rule(path, value);
  return value;
}

export function checkAuth(value: unknown, field = "auth"): WebhookAuth {
  if (value === undefined || value === null) return { type: "none" };
  const auth = checkObject(field, value);
  const type = auth.type;
  const credentials = auth.credentials === undefined ? {} : checkObject(`${field}.credentials`, auth.credentials);
  switch (type) {
    case "none":
      return { type: "none" };
    case "bearer":
      return { type, credentials: { token: credential(field, credentials, "token", checkHeaderValue)! } };
    case "basic":
      return {
        type,
        credentials: {
          username: credential(field, credentials, "username", storableCredential)!,
          password: credential(field, credentials, "password", storableCredential)!,
        },
      };
    case "api-key": {
      const headerName = credential(field, credentials, "header_name", checkHeaderName, false) ?? "X-API-Key";
      return { type, credentials: { api_key: credential(field, credentials, "api_key", checkHeaderValue)!, header_name: headerName } };
    }
    case "hmac": {
      const headerName = credential(field, credentials, "header_name", checkHeaderName, false);
      const secret = credential(field, credentials, "secret", storableCredential)!;
      const signatureFormat = checkSignatureFormat(field, credentials.signature_format);
      return {
        type,
        credentials: {
          secret,
          ...(headerName === undefined ? {} : { header_name: headerName }),
          ...(signatureFormat === undefined ? {} : { signature_format: signatureFormat }),
        },
      };
    }
    case "oauth2":
      return { type, credentials: checkOAuth2Credentials(field, credentials) };
    default:
      throw invalidField(`${field}.type`, `must be one of none, bearer, basic, api-key, hmac, oauth2; got ${JSON.stringify(type)}`);
  }
}

const OAUTH2_AUTH_METHODS: readonly OAuth2AuthMethod[] = ["client_secret_basic", "client_secret_post"];
const OAUTH2_CREDENTIALS = new Set(["token_url", "client_id", "client_secret", "scope", "audience", "auth_method"]);

/** OAuth2 client credentials; scope, audience and auth_method stay absent unless given. */
function checkOAuth2Credentials(field: string, credentials: Record<string, unknown>): OAuth2Credentials {
  // A misspelt optional one (`audiance`) would otherwise be dropped unnoticed, and the token refused later.
  const unknown = Object.keys(credentials).find((key) => !OAUTH2_CREDENTIALS.has(key));
  if (unknown !== undefined) throw invalidField(`${field}.credentials.${unknown}`, `is not an oauth2 credential; known: ${[...OAUTH2_CREDENTIALS].join(", ")}`);
  const tokenUrl = credentials.token_url;
  const tokenUrlField = `${field}.credentials.token_url`;
  const parsed = typeof tokenUrl === "string" && URL.canParse(tokenUrl) ? new URL(tokenUrl) : null;
  if (parsed && (parsed.username || parsed.password)) {
    throw invalidField(tokenUrlField, "must not carry credentials; give them as client_id and client_secret");
  }
  const checked: OAuth2Credentials = {
    token_url: checkUrl(tokenUrl, tokenUrlField),
    client_id: credential(field, credentials, "client_id", storableCredential)!,
    client_secret: credential(field, credentials, "client_secret", storableCredential)!,
  };
  const scope = credential(field, credentials, "scope", storableCredential, false);
  const audience = credential(field, credentials, "audience", storableCredential, false);
  if (scope !== undefined) checked.scope = scope;
  if (audience !== undefined) checked.audience = audience;
  if (credentials.auth_method !== undefined) {
    checked.auth_method = checkEnum(`${field}.credentials.auth_method`, credentials.auth_method, OAUTH2_AUTH_METHODS);
  }
  return checked;
}

/** Absent means `prefixed`; kept absent so webhooks stored before the option read the same. */
function checkSignatureFormat(field: string, value: unknown): HmacSignatureFormat | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !HMAC_SIGNATURE_FORMATS.includes(value as HmacSignatureFormat)) {
    throw invalidField(
      `${field}.credentials.signature_format`,
      `must be one of ${HMAC_SIGNATURE_FORMATS.join(", ")} (prefixed: sha256=<hex>, the default; hex: the bare digest, as seed 004's sample receivers compare); got ${JSON.stringify(value)}`,
    );
  }
  return value as HmacSignatureFormat;
}

function checkEnum<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== "string" || !allowed.includes(value as T)) {
    throw invalidField(field, `must be one of ${allowed.join(", ")}; got ${JSON.stringify(value)}`);
  }
  return value as T;
}

function checkRateLimit(value: unknown): number | null {
  if (value === null) return null;
  if (typeof value !== "number" || !Number.isFinite(value) || value < MIN_RATE_LIMIT_PER_SECOND || value > MAX_RATE_LIMIT_PER_SECOND) {
    throw invalidField(
      "rateLimitPerSecond",
      `must be null (no limit) or a number from ${MIN_RATE_LIMIT_PER_SECOND} (one request per 100 s) to ${MAX_RATE_LIMIT_PER_SECOND}; got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function rejectUnknownFields(input: Record<string, unknown>, allowed: Set<string>): void {
  for (const key of Object.keys(input)) {
    if (!allowed.has(key)) throw invalidField(key, `is not a webhook field; known fields: ${[...allowed].join(", ")}`);
  }
}

export interface NewWebhookContext {
  tenantId: string | null;
  kind?: WebhookKind;
  now: number;
  /** Retry policy and timeout defaults: seed 003's for native webhooks, Identus's for Identus ones. */
  retryBase?: RetryPolicy;
  timeoutMs?: number;
}

export function buildWebhook(rawInput: unknown, context: NewWebhookContext): Webhook {
  const input = checkObject("webhook", rawInput);
  rejectUnknownFields(input, KNOWN_FIELDS);
  const url = checkUrl(input.url);
  const secret = input.secret === undefined ? generateSigningSecret() : String(input.secret);
  if (!isSigningSecret(secret)) throw invalidField("secret", "must be whsec_ followed by 16 to 64 base64-encoded bytes");
  const webhook: Webhook = {
    id: uuidv7(context.now),
    tenantId: context.tenantId,
    kind: context.kind ?? "native",
    name: input.name === undefined ? new URL(url).host : checkString("name", input.name, 200, false),
    url,
    description: input.description === undefined ? "" : checkString("description", input.description, 2000),
    events: ["*"],
    method: input.method === undefined ? "POST" : checkEnum("method", input.method, METHODS),
    headers: input.headers === undefined ? {} : checkHeaders(input.headers),
    publicHeaders: [],
    auth: checkAuth(input.auth),
    secrets: [{ secret, expiresAt: null }],
    retry: resolveRetryPolicy(input.retry, context.retryBase ?? DEFAULT_RETRY_POLICY),
    timeoutMs: input.timeoutMs === undefined ? (context.timeoutMs ?? DEFAULT_TIMEOUT_MS) : checkInteger("timeoutMs", input.timeoutMs, 100, 300_000),
    status: input.status === undefined ? "active" : checkEnum("status", input.status, ["active", "inactive"] as const),
    disabledReason: null,
    payloadFormat: input.payloadFormat === undefined ? "identus" : checkEnum("payloadFormat", input.payloadFormat, PAYLOAD_FORMATS),
    rateLimitPerSecond: input.rateLimitPerSecond === undefined ? null : checkRateLimit(input.rateLimitPerSecond),
    maxConcurrency: input.maxConcurrency === undefined ? DEFAULT_MAX_CONCURRENCY : checkInteger("maxConcurrency", input.maxConcurrency, 1, 1000),
    ordered: input.ordered === undefined ? false : checkBoolean("ordered", input.ordered),
    propagateTraceContext: input.propagateTraceContext === undefined ? false : checkBoolean("propagateTraceContext", input.propagateTraceContext),
    metadata: input.metadata === undefined ? {} : checkMetadata(input.metadata),
    uid: input.uid === undefined ? null : checkUid(input.uid),
    channels: input.channels === undefined ? null : checkChannels(input.channels),
    filter: input.filter === undefined ? null : checkPayloadFilter(input.filter),
    ...(input.proxyUrl === undefined || input.proxyUrl === null ? {} : { proxyUrl: checkProxyUrl(input.proxyUrl) }),
    ...(input.tls === undefined || input.tls === null ? {} : { tls: checkTls(input.tls, context.now) }),
    failingSince: null,
    createdAt: context.now,
    updatedAt: context.now,
  };
  if (input.events !== undefined) {
    assertEventPatterns(input.events);
    webhook.events = [...new Set(input.events)];
  }
  if (input.publicHeaders !== undefined) webhook.publicHeaders = checkPublicHeaders(input.publicHeaders, webhook.headers);
  assertAuthHeaderFree(webhook, input.headers !== undefined);
  return webhook;
}

function checkBoolean(field: string, value: unknown): boolean {
  if (typeof value !== "boolean") throw invalidField(field, "must be true or false");
  return value;
}

function checkMetadata(value: unknown): Record<string, unknown> {
  const metadata = checkObject("metadata", value);
  // Before JSON.stringify: 5,000 levels of nesting would overflow the stack there (a 500).
  assertJsonValue(metadata, "metadata");
  if (JSON.stringify(metadata).length > 16_384) throw invalidField("metadata", "must be at most 16 KiB as JSON");
  return metadata;
}

const PATCH_FIELDS = new Set([...KNOWN_FIELDS].filter((f) => f !== "secret"));

/** Applies a partial update; fields left out keep their values. `status: "active"` re-enables a disabled webhook. */
export function applyWebhookPatch(current: Webhook, rawPatch: unknown, now: number): Webhook {
  const patch = checkObject("webhook", rawPatch);
  rejectUnknownFields(patch, PATCH_FIELDS);
  const next: Webhook = { ...current, updatedAt: now };
  if (patch.name !== undefined) next.name = checkString("name", patch.name, 200, false);
  if (patch.url !== undefined) next.url = checkUrl(patch.url);
  if (patch.description !== undefined) next.description = checkString("description", patch.description, 2000);
  if (patch.events !== undefined) {
    assertEventPatterns(patch.events);
    next.events = [...new Set(patch.events)];
  }
  if (patch.method !== undefined) next.method = checkEnum("method", patch.method, METHODS);
  if (patch.headers !== undefined) next.headers = keepMaskedValues(checkHeaders(patch.headers), current);
  next.publicHeaders = patch.publicHeaders === undefined
    ? keptPublicHeaders(current.publicHeaders, next.headers)
    : checkPublicHeaders(patch.publicHeaders, next.headers);
  if (patch.auth !== undefined) next.auth = checkAuth(patch.auth);
  if (patch.headers !== undefined || patch.auth !== undefined) assertAuthHeaderFree(next, patch.headers !== undefined);
  if (patch.retry !== undefined) next.retry = resolveRetryPolicy(patch.retry, current.retry);
  if (patch.timeoutMs !== undefined) next.timeoutMs = checkInteger("timeoutMs", patch.timeoutMs, 100, 300_000);
  if (patch.status !== undefined) {
    next.status = checkEnum("status", patch.status, ["active", "inactive"] as const);
    next.disabledReason = null;
  }
  if (patch.payloadFormat !== undefined) next.payloadFormat = checkEnum("payloadFormat", patch.payloadFormat, PAYLOAD_FORMATS);
  if (patch.rateLimitPerSecond !== undefined) next.rateLimitPerSecond = checkRateLimit(patch.rateLimitPerSecond);
  if (patch.maxConcurrency !== undefined) next.maxConcurrency = checkInteger("maxConcurrency", patch.maxConcurrency, 1, 1000);
  if (patch.ordered !== undefined) next.ordered = checkBoolean("ordered", patch.ordered);
  if (patch.propagateTraceContext !== undefined) next.propagateTraceContext = checkBoolean("propagateTraceContext", patch.propagateTraceContext);
  if (patch.metadata !== undefined) next.metadata = checkMetadata(patch.metadata);
  if (patch.uid !== undefined) next.uid = checkUid(patch.uid);
  if (patch.channels !== undefined) next.channels = checkChannels(patch.channels);
  if (patch.filter !== undefined) next.filter = checkPayloadFilter(patch.filter);
  // A masked proxy URL sent back as read keeps its stored password.
  if (patch.proxyUrl !== undefined) next.proxyUrl = current.proxyUrl && patch.proxyUrl === maskProxyUrl(current.proxyUrl) ? current.proxyUrl : checkProxyUrl(patch.proxyUrl);
  if (patch.tls !== undefined) next.tls = checkTls(patch.tls, now);
  return next;
}

/** The webhook as callers see it: credentials, secrets and header values (but those in publicHeaders) masked. */
export function redactWebhook(webhook: Webhook): PublicWebhook {
  const { secrets: _secrets, ...rest } = webhook;
  return { ...rest, headers: shownHeaders(webhook), publicHeaders: webhook.publicHeaders ?? [], auth: redactAuth(webhook.auth), ...shownEgress(webhook) };
}

export type PublicWebhook = Omit<Webhook, "secrets" | "auth" | "publicHeaders" | "proxyUrl" | "tls"> & {
  publicHeaders: string[];
  proxyUrl: string | null;
  tls: PublicTls | null;
  auth: { type: WebhookAuth["type"]; credentials?: Record<string, string> };
};

function redactAuth(auth: WebhookAuth): PublicWebhook["auth"] {
  switch (auth.type) {
    case "none":
      return { type: "none" };
    case "bearer":
      return { type: auth.type, credentials: { token: mask(auth.credentials.token) } };
    case "basic":
      return { type: auth.type, credentials: { username: auth.credentials.username, password: mask(auth.credentials.password) } };
    case "api-key":
      return { type: auth.type, credentials: { api_key: mask(auth.credentials.api_key), header_name: auth.credentials.header_name } };
    case "hmac": {
      // header_name and signature_format say how to verify, not what with: shown as stored.
      const { header_name: headerName, signature_format: signatureFormat } = auth.credentials;
      return {
        type: auth.type,
        credentials: {
          secret: mask(auth.credentials.secret),
          ...(headerName ? { header_name: headerName } : {}),
          ...(signatureFormat ? { signature_format: signatureFormat } : {}),
        },
      };
    }
    case "oauth2":
      // Only the secret is secret: the rest says where and as whom Herald asks for tokens.
      return { type: auth.type, credentials: { ...auth.credentials, client_secret: mask(auth.credentials.client_secret) } };
  }
}
