/** Domain types shared by ingest, the store, dispatch and the API. Times are epoch milliseconds. */

export const DEFAULT_TENANT_ID = "00000000-0000-0000-0000-000000000000";

export type WebhookStatus = "active" | "inactive" | "disabled";
/**
 * The body's shape, each matching a sender Herald stands in for (docs/delivery.md): `identus`
 * (Identus Cloud Agent 1.x), `prism` (seed 000's PRISM Agent), `standard` (Standard Webhooks),
 * `systemprompt` (seed 003), `agentfactory` (seed 004), `svix` (the event's data itself,
 * unwrapped: endpoints made through the Svix-compatible API).
 */
export type PayloadFormat = "identus" | "prism" | "standard" | "systemprompt" | "agentfactory" | "svix";
export type HttpMethod = "POST" | "PUT" | "PATCH";
export type RetryStrategy = "exponential" | "linear" | "fixed";
export type DeliveryState = "pending" | "in_flight" | "succeeded" | "failed" | "cancelled";
/** `auth`: the OAuth2 token request failed, so the receiver was not called. */
export type AttemptErrorClass = "timeout" | "refused" | "dns" | "tls" | "http" | "network" | "blocked" | "auth";
/** `identus` webhooks were made through `/events/webhooks` or the environment; `native` through `/v1` or the library. */
export type WebhookKind = "native" | "identus";

export interface RetryPolicy {
  strategy: RetryStrategy;
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  multiplier: number;
  /** 0..1: the share of each delay that is randomised, so retries of many deliveries spread out. */
  jitter: number;
  /** The whole retry span, from the delivery's creation; no attempt is scheduled past it. */
  windowMs: number | null;
}

export type WebhookAuth =
  | { type: "none" }
  | { type: "bearer"; credentials: { token: string } }
  | { type: "basic"; credentials: { username: string; password: string } }
  | { type: "api-key"; credentials: { api_key: string; header_name: string } }
  | { type: "hmac"; credentials: { secret: string; header_name?: string; signature_format?: HmacSignatureFormat } }
  | { type: "oauth2"; credentials: OAuth2Credentials };

/**
 * OAuth2 client credentials (RFC 6749 section 4.4): Herald gets a token from `token_url` and
 * sends it as `Authorization: Bearer <token>` (src/dispatch/oauth2-tokens.ts). Optional fields are
 * kept absent when not given.
 */
export interface OAuth2Credentials {
  token_url: string;
  client_id: string;
  client_secret: string;
  scope?: string;
  audience?: string;
  /** How the client authenticates to the token endpoint; absent means `client_secret_basic`. */
  auth_method?: OAuth2AuthMethod;
}

export type OAuth2AuthMethod = "client_secret_basic" | "client_secret_post";

/**
 * How the hmac header carries the digest: `prefixed` (`sha256=<hex>`, the default, as seed 003
 * and seed 004's text say) or `hex` (the bare digest, which seed 004's own sample receivers compare).
 */
export type HmacSignatureFormat = "prefixed" | "hex";

export type WebhookAuthType = WebhookAuth["type"];

export interface SigningSecret {
  secret: string;
  /** When a rotated-out secret stops signing; null for the current one. */
  expiresAt: number | null;
}

/** PEM texts: a client certificate and its key (with the key's passphrase), and/or CA certificates trusted for the receiver. */
export interface WebhookTls {
  clientCert?: string;
  clientKey?: string;
  passphrase?: string;
  ca?: string;
}

export interface Webhook {
  id: string;
  /** null: a global webhook, which receives every tenant's events. */
  tenantId: string | null;
  kind: WebhookKind;
  name: string;
  url: string;
  description: string;
  events: string[];
  method: HttpMethod;
  headers: Record<string, string>;
  /**
   * Names of `headers` (any case) whose values are shown in API answers and attempt records;
   * every other header value is treated as a secret. Absent (rows made before it existed): none.
   */
  publicHeaders?: string[];
  auth: WebhookAuth;
  /** Current secret first; older ones still inside their rotation grace period after it. */
  secrets: SigningSecret[];
  retry: RetryPolicy;
  timeoutMs: number;
  status: WebhookStatus;
  disabledReason: string | null;
  payloadFormat: PayloadFormat;
  rateLimitPerSecond: number | null;
  maxConcurrency: number;
  ordered: boolean;
  /** Attempts send `traceparent`/`tracestate` to the receiver (when tracing is on); absent: false. */
  propagateTraceContext?: boolean;
  metadata: Record<string, unknown>;
  /** The caller's own id for it (Svix's endpoint `uid`), unique in its tenant; null when none. */
  uid?: string | null;
  /** Svix channels: only events sent to one of them reach it; null (or absent) takes every event. */
  channels?: string[] | null;
  /** Payload filter: a MongoDB-style query over `{type, data, metadata}`; only events it matches reach the webhook. Null (or absent): none. */
  filter?: Record<string, unknown> | null;
  /** Forward proxy for its requests: a proxy URL, `"direct"` (none), or null/absent (the server's HERALD_PROXY_URL). */
  proxyUrl?: string | null;
  /** Client certificate for mTLS and CA trusted for the receiver; null/absent: none. */
  tls?: WebhookTls | null;
  /** When its deliveries started giving up without a success since; null while healthy. */
  failingSince: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface RecoveryJob {
  id: string;
  webhookId: string;
  since: number;
  /** The last delivery id re-queued; the next batch starts after it. */
  cursor: string | null;
  requeued: number;
  status: "running" | "done";
  createdAt: number;
  updatedAt: number;
}

export interface HeraldEvent {
  id: string;
  tenantId: string;
  type: string;
  data: unknown;
  metadata: Record<string, unknown> | null;
  createdAt: number;
}

export interface Delivery {
  id: string;
  eventId: string;
  webhookId: string;
  tenantId: string;
  eventType: string;
  state: DeliveryState;
  attemptCount: number;
  nextAttemptAt: number | null;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
  completedAt: number | null;
}

export interface AttemptRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
}

export interface AttemptResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface Attempt {
  id: string;
  deliveryId: string;
  webhookId: string;
  attemptNumber: number;
  startedAt: number;
  durationMs: number;
  request: AttemptRequest;
  response: AttemptResponse | null;
  errorClass: AttemptErrorClass | null;
  errorMessage: string | null;
}

export interface Tenant {
  id: string;
  name: string;
  /** The caller's own id for it (Svix's application `uid`), unique; null when none. */
  uid?: string | null;
  metadata?: Record<string, string>;
  createdAt: number;
  /** Absent on tenants never changed since before it was recorded: createdAt. */
  updatedAt?: number;
}

export interface ApiKey {
  id: string;
  tenantId: string;
  name: string;
  prefix: string;
  createdAt: number;
  revokedAt: number | null;
}

/** The tenant id under which event types for every tenant are kept (Svix's environment-wide event types). */
export const ALL_TENANTS = "*";

export interface EventType {
  /** A tenant's id, or ALL_TENANTS. */
  tenantId: string;
  name: string;
  description: string;
  schema: unknown | null;
  createdAt: number;
}

/**
 * Deliveries count events (a delivery that failed twice then succeeded is one successful
 * delivery); attempts count HTTP requests, so `failed_attempts` and `last_failure` can be
 * non-zero while `failed_deliveries` is 0.
 */
export interface WebhookStats {
  total_deliveries: number;
  successful_deliveries: number;
  /** Deliveries that gave up (every attempt failed). */
  failed_deliveries: number;
  /** failed_deliveries over finished deliveries. */
  failure_rate: number;
  total_attempts: number;
  /** Attempts answered outside 2xx or not answered at all, retried or not. */
  failed_attempts: number;
  average_duration: number | null;
  p95_duration: number | null;
  last_delivery: string | null;
  last_success: string | null;
  /** The last failed attempt's start. */
  last_failure: string | null;
}

export interface Page<T> {
  items: T[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}
