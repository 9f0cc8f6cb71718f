/**
 * Request and response schemas (TypeBox, i.e. JSON Schema). The same objects validate requests
 * (through the validator in validation.ts) and generate /openapi.json (through @fastify/swagger),
 * so the documentation cannot drift from what the server accepts. They are written in the
 * OpenAPI 3.0 subset of JSON Schema: `nullable` instead of `type: "null"`, `enum` instead of
 * `const`, and `additionalProperties` instead of `patternProperties`.
 */
import { type TSchema, Type, type Static } from "@sinclair/typebox";
import { RETRY_PRESETS } from "../domain/retry-policy.js";
import { PAYLOAD_FORMATS } from "../domain/webhook-input.js";

const PRESET_NAMES = Object.keys(RETRY_PRESETS);

export function StringEnum<const T extends readonly string[]>(values: T, options: { description?: string } = {}) {
  return Type.Unsafe<T[number]>({ type: "string", enum: [...values], ...options });
}

export function Nullable<T extends TSchema>(schema: T) {
  return Type.Unsafe<Static<T> | null>({ ...schema, nullable: true });
}

const StringMap = (description: string) => Type.Object({}, { additionalProperties: Type.String(), description });
const AnyObject = (description: string) => Type.Object({}, { additionalProperties: true, description });
const Time = (description: string) => Type.String({ description: `${description}: ISO-8601 date-time or epoch milliseconds`, maxLength: 40 });
const Limit = Type.Integer({ minimum: 1, maximum: 1000, description: "page size (default 50)" });
const Cursor = Type.String({ maxLength: 200, description: "nextCursor from the previous page" });
const TenantIdQuery = Type.String({ maxLength: 200, description: "admin only: act on this tenant" });

export const DELIVERY_STATES = ["pending", "in_flight", "succeeded", "failed", "cancelled"] as const;
export const WEBHOOK_STATUSES = ["active", "inactive", "disabled"] as const;

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    instance: Type.String(),
    code: Type.String({ description: "stable HERALD_ERR_* code" }),
    field: Type.Optional(Type.String({ description: "the input field at fault" })),
  },
  { $id: "Problem", description: "application/problem+json" },
);

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });
export type IdParams = Static<typeof IdParams>;

// ---- webhooks

const retryPolicyFields = {
  strategy: Type.Optional(StringEnum(["exponential", "linear", "fixed"] as const)),
  maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  initialDelayMs: Type.Optional(Type.Integer({ minimum: 0 })),
  maxDelayMs: Type.Optional(Type.Integer({ minimum: 0 })),
  multiplier: Type.Optional(Type.Number({ minimum: 1, maximum: 100 })),
  jitter: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  windowMs: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
};

/** A stored policy, as answers show it: the preset it came from is not kept. */
const RetryPolicy = Type.Object(retryPolicyFields, { additionalProperties: false });

const RetryInput = Type.Object(
  {
    // A string rather than an enum: an unknown name is then the engine's 422 naming retry.preset
    // and listing the presets, the same answer the library and the CLI give.
    preset: Type.Optional(Type.String({
      maxLength: 100,
      description: `a named policy the other fields override: ${PRESET_NAMES.join(", ")} (agentfactory: seed 004's 3 retries in 24 h)`,
    })),
    ...retryPolicyFields,
  },
  { additionalProperties: false },
);

const Auth = Type.Object(
  {
    type: StringEnum(["none", "bearer", "basic", "api-key", "hmac", "oauth2"] as const),
    credentials: Type.Optional(AnyObject(
      "bearer {token}; basic {username, password}; api-key {api_key, header_name}; hmac {secret, header_name?, signature_format?: prefixed (sha256=<hex>, default) or hex}; " +
        "oauth2 {token_url, client_id, client_secret, scope?, audience?, auth_method?: client_secret_basic (default) or client_secret_post}",
    )),
  },
  { additionalProperties: false },
);

const TlsInput = Type.Object(
  {
    clientCert: Type.Optional(Type.String({ minLength: 1, maxLength: 65_536, description: "PEM client certificate presented to the receiver (mTLS)" })),
    clientKey: Type.Optional(Type.String({ minLength: 1, maxLength: 65_536, description: "PEM private key of clientCert; sealed, never shown" })),
    passphrase: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: "passphrase of an encrypted clientKey" })),
    ca: Type.Optional(Type.String({ minLength: 1, maxLength: 524_288, description: "PEM CA certificates trusted for the receiver, instead of the system's" })),
  },
  { additionalProperties: false, description: "mTLS to the receiver: clientCert and clientKey together, ca with them or alone; null removes it" },
);

const TlsShown = Type.Object(
  {
    clientCert: Nullable(Type.Object({
      subject: Type.String(), issuer: Type.String(), validFrom: Type.String(), validTo: Type.String(), fingerprint256: Type.String(), serialNumber: Type.String(),
    })),
    ca: Nullable(Type.Array(Type.String(), { description: "subjects of the trusted CA certificates; null: the system's" })),
  },
  { description: "what the client certificate is; the PEM, key and passphrase are never shown" },
);

const webhookFields = {
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  url: Type.String({ minLength: 1, maxLength: 2048, description: "http:// or https:// URL of the receiver" }),
  description: Type.Optional(Type.String({ maxLength: 2000 })),
  events: Type.Optional(Type.Array(Type.String({ maxLength: 200 }), { minItems: 1, maxItems: 500, description: 'event types or patterns: "agent.*", "custom", "*"' })),
  method: Type.Optional(StringEnum(["POST", "PUT", "PATCH"] as const)),
  headers: Type.Optional(StringMap("extra request headers; every value is treated as a secret (masked in answers, redacted in attempt records) unless named in publicHeaders")),
  publicHeaders: Type.Optional(Type.Array(Type.String({ maxLength: 256 }), {
    maxItems: 50, description: "names of headers (any case) whose values are not secret: shown in answers and attempt records",
  })),
  auth: Type.Optional(Nullable(Auth)),
  retry: Type.Optional(RetryInput),
  timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 300_000 })),
  payloadFormat: Type.Optional(StringEnum(PAYLOAD_FORMATS, {
    description: "body shape: identus (default), prism (seed 000), standard, systemprompt (seed 003), agentfactory (seed 004); svix: the event's data itself, unwrapped",
  })),
  rateLimitPerSecond: Type.Optional(Nullable(Type.Number({ minimum: 0.01, maximum: 100_000, description: "requests per second, at least 0.01 (one per 100 s); null: no limit" }))),
  maxConcurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  ordered: Type.Optional(Type.Boolean()),
  propagateTraceContext: Type.Optional(Type.Boolean({
    description: "send the producer's W3C traceparent/tracestate to the receiver, so it joins the producer's trace (OpenTelemetry on); default false",
  })),
  metadata: Type.Optional(AnyObject("your own data, kept with the webhook")),
  uid: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 256, description: "your own id for the webhook, unique in its tenant (Svix's endpoint uid)" }))),
  channels: Type.Optional(Nullable(Type.Array(Type.String({ maxLength: 128 }), {
    minItems: 1, maxItems: 10, description: "Svix channels: only events sent to one of them arrive; null: every event",
  }))),
  filter: Type.Optional(Nullable(AnyObject(
    'payload filter: a MongoDB-style query over the event\'s {type, data, metadata}, e.g. {"data.amount": {"$gte": 100}}; only events it matches arrive; null or {}: none (docs/delivery.md#payload-filters)',
  ))),
  proxyUrl: Type.Optional(Nullable(Type.String({
    minLength: 1, maxLength: 2048, description: 'forward proxy for this webhook, http://[user:password@]host:port; "direct": no proxy; null: the server\'s HERALD_PROXY_URL',
  }))),
  tls: Type.Optional(Nullable(TlsInput)),
};

export const CreateWebhookBody = Type.Object(
  {
    ...webhookFields,
    status: Type.Optional(StringEnum(["active", "inactive"] as const)),
    secret: Type.Optional(Type.String({ maxLength: 200, description: "a whsec_ signing secret to use instead of a generated one" })),
    tenantId: Type.Optional(Nullable(Type.String({ maxLength: 200, description: "admin only: the owning tenant; null for a global webhook" }))),
  },
  { additionalProperties: false },
);
export type CreateWebhookBody = Static<typeof CreateWebhookBody>;

export const PatchWebhookBody = Type.Object(
  { ...webhookFields, url: Type.Optional(webhookFields.url), status: Type.Optional(StringEnum(["active", "inactive"] as const)) },
  { additionalProperties: false, minProperties: 1 },
);

export const Webhook = Type.Object(
  {
    id: Type.String(),
    tenantId: Nullable(Type.String()),
    kind: StringEnum(["native", "identus"] as const),
    name: Type.String(),
    url: Type.String(),
    description: Type.String(),
    events: Type.Array(Type.String()),
    method: Type.String(),
    headers: StringMap("values masked, except those named in publicHeaders"),
    publicHeaders: Type.Array(Type.String()),
    auth: Type.Object({ type: Type.String(), credentials: Type.Optional(StringMap("masked")) }),
    retry: RetryPolicy,
    timeoutMs: Type.Integer(),
    status: StringEnum(WEBHOOK_STATUSES),
    disabledReason: Nullable(Type.String()),
    payloadFormat: Type.String(),
    rateLimitPerSecond: Nullable(Type.Number()),
    maxConcurrency: Type.Integer(),
    ordered: Type.Boolean(),
    propagateTraceContext: Type.Optional(Type.Boolean()),
    metadata: AnyObject("metadata"),
    uid: Type.Optional(Nullable(Type.String())),
    channels: Type.Optional(Nullable(Type.Array(Type.String()))),
    filter: Type.Optional(Nullable(AnyObject("payload filter; null: none"))),
    proxyUrl: Nullable(Type.String({ description: "the webhook's own proxy, password masked; null: the server's" })),
    tls: Nullable(TlsShown),
    createdAt: Type.String({ format: "date-time" }),
    updatedAt: Type.String({ format: "date-time" }),
  },
  { description: "a webhook as callers see it: credentials and secrets masked" },
);

export const CreatedWebhook = Type.Intersect([Webhook, Type.Object({ secret: Type.String({ description: "whsec_ signing secret, shown once" }) })]);

export const WebhookListQuery = Type.Object(
  {
    status: Type.Optional(StringEnum(WEBHOOK_STATUSES)),
    event: Type.Optional(Type.String({ maxLength: 200, description: "webhooks subscribed to this event type" })),
    limit: Type.Optional(Limit),
    cursor: Type.Optional(Cursor),
    tenantId: Type.Optional(TenantIdQuery),
  },
  { additionalProperties: false },
);
export type WebhookListQuery = Static<typeof WebhookListQuery>;

export const RecoverBody = Type.Object({ since: Time("re-queue failed deliveries created at or after") }, { additionalProperties: false });

export const Recovery = Type.Object({
  id: Type.String(),
  webhookId: Type.String(),
  since: Type.String({ format: "date-time" }),
  requeued: Type.Integer({ description: "failed deliveries made due again so far" }),
  status: StringEnum(["running", "done"] as const),
  createdAt: Type.String({ format: "date-time" }),
  updatedAt: Type.String({ format: "date-time" }),
});

export const WebhookStats = Type.Object({
  total_deliveries: Type.Integer(),
  successful_deliveries: Type.Integer(),
  failed_deliveries: Type.Integer({ description: "deliveries that gave up after their last attempt" }),
  failure_rate: Type.Number({ description: "failed_deliveries over finished deliveries" }),
  total_attempts: Type.Integer({ description: "HTTP attempts, retries included" }),
  failed_attempts: Type.Integer({ description: "attempts answered outside 2xx or not answered, retried or not" }),
  average_duration: Nullable(Type.Number()),
  p95_duration: Nullable(Type.Number()),
  last_delivery: Nullable(Type.String()),
  last_success: Nullable(Type.String()),
  last_failure: Nullable(Type.String({ description: "start of the last failed attempt" })),
});

// ---- events

const eventFields = {
  type: Type.String({ minLength: 1, maxLength: 200, description: 'dot-separated event type, e.g. "agent.started"' }),
  data: Type.Unknown({ description: "the event's JSON payload" }),
  metadata: Type.Optional(Nullable(AnyObject("optional metadata"))),
  id: Type.Optional(Type.String({ maxLength: 64, description: "your UUID for the event: posting it again within the idempotency window (HERALD_IDEMPOTENCY_WINDOW_MS, default 24 h) returns the original" })),
};

export const EventInput = Type.Object(eventFields, { additionalProperties: false });

export const CreateEventBody = Type.Object(
  { ...eventFields, tenantId: Type.Optional(Type.String({ maxLength: 200, description: "admin only: the tenant the event belongs to" })) },
  { additionalProperties: false },
);
export type CreateEventBody = Static<typeof CreateEventBody>;

export const BatchEventsBody = Type.Object(
  {
    events: Type.Array(EventInput, { minItems: 1, maxItems: 1000 }),
    tenantId: Type.Optional(Type.String({ maxLength: 200, description: "admin only" })),
  },
  { additionalProperties: false },
);
export type BatchEventsBody = Static<typeof BatchEventsBody>;

export const IdempotencyHeaders = Type.Object({
  "idempotency-key": Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: "the same key within the idempotency window (HERALD_IDEMPOTENCY_WINDOW_MS, default 24 h) returns the original event" })),
});

export const Accepted = Type.Object({
  id: Type.String(),
  deliveries: Type.Array(Type.String(), { description: "ids of the deliveries made, one per matching webhook" }),
  duplicate: Type.Boolean({ description: "true when this id or Idempotency-Key was already accepted" }),
});

export const Event = Type.Object({
  id: Type.String(),
  tenantId: Type.String(),
  type: Type.String(),
  data: Type.Unknown(),
  metadata: Nullable(AnyObject("metadata")),
  createdAt: Type.String({ format: "date-time" }),
});

export const EventListQuery = Type.Object(
  {
    type: Type.Optional(Type.String({ maxLength: 200 })),
    since: Type.Optional(Time("events created at or after")),
    limit: Type.Optional(Limit),
    cursor: Type.Optional(Cursor),
    tenantId: Type.Optional(TenantIdQuery),
  },
  { additionalProperties: false },
);
export type EventListQuery = Static<typeof EventListQuery>;

// ---- deliveries

export const Delivery = Type.Object({
  id: Type.String(),
  eventId: Type.String(),
  webhookId: Type.String(),
  tenantId: Type.String(),
  eventType: Type.String(),
  status: StringEnum(DELIVERY_STATES),
  attemptCount: Type.Integer(),
  nextAttemptAt: Nullable(Type.String({ format: "date-time" })),
  lastStatus: Nullable(Type.Integer()),
  lastError: Nullable(Type.String()),
  createdAt: Type.String({ format: "date-time" }),
  updatedAt: Type.String({ format: "date-time" }),
  completedAt: Nullable(Type.String({ format: "date-time" })),
});

export const Attempt = Type.Object({
  id: Type.String(),
  attemptNumber: Type.Integer(),
  startedAt: Type.String({ format: "date-time" }),
  durationMs: Type.Number(),
  request: Type.Object({ method: Type.String(), url: Type.String(), headers: StringMap("credentials masked") }),
  response: Nullable(Type.Object({ status: Type.Integer(), headers: StringMap("response headers"), body: Type.String() })),
  errorClass: Nullable(Type.String()),
  errorMessage: Nullable(Type.String()),
});

export const DeliveryWithAttempts = Type.Intersect([Delivery, Type.Object({ attempts: Type.Array(Attempt) })]);

export const DeliveryListQuery = Type.Object(
  {
    webhookId: Type.Optional(Type.String({ maxLength: 200 })),
    eventType: Type.Optional(Type.String({ maxLength: 200 })),
    status: Type.Optional(StringEnum(DELIVERY_STATES)),
    since: Type.Optional(Time("deliveries created at or after")),
    until: Type.Optional(Time("deliveries created before")),
    limit: Type.Optional(Limit),
    cursor: Type.Optional(Cursor),
    tenantId: Type.Optional(TenantIdQuery),
  },
  { additionalProperties: false },
);
export type DeliveryListQuery = Static<typeof DeliveryListQuery>;

export const WebhookDeliveriesQuery = Type.Object(
  { status: Type.Optional(StringEnum(DELIVERY_STATES)), limit: Type.Optional(Limit), cursor: Type.Optional(Cursor) },
  { additionalProperties: false },
);
export type WebhookDeliveriesQuery = Static<typeof WebhookDeliveriesQuery>;

// ---- tenants, keys, event types

export const CreateTenantBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    id: Type.Optional(Type.String({ minLength: 1, maxLength: 100, pattern: "^[A-Za-z0-9_-]+$", description: "default: a generated UUID" })),
  },
  { additionalProperties: false },
);
export type CreateTenantBody = Static<typeof CreateTenantBody>;

export const Tenant = Type.Object({ id: Type.String(), name: Type.String(), createdAt: Type.String({ format: "date-time" }) });

export const ApiKey = Type.Object({
  id: Type.String(),
  tenantId: Type.String(),
  name: Type.String(),
  prefix: Type.String({ description: "the key's first characters, to tell keys apart" }),
  createdAt: Type.String({ format: "date-time" }),
  revokedAt: Nullable(Type.String({ format: "date-time" })),
});

export const IssuedApiKey = Type.Intersect([ApiKey, Type.Object({ key: Type.String({ description: "the key itself: shown once" }) })]);

export const CreateApiKeyBody = Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }, { additionalProperties: false });

export const CreateEventTypeBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    schema: Type.Optional(Nullable(AnyObject(
      "JSON Schema (draft-07, as ajv) that the event's data must match: at most 64 KiB and 64 levels, $refs within the schema only; " +
        "patterns use RE2 syntax (linear time: no backreferences or lookaround)",
    ))),
    tenantId: Type.Optional(Type.String({ maxLength: 200, description: "admin only" })),
  },
  { additionalProperties: false },
);
export type CreateEventTypeBody = Static<typeof CreateEventTypeBody>;

export const EventType = Type.Object({
  name: Type.String(),
  description: Type.String(),
  schema: Nullable(AnyObject("JSON Schema")),
  createdAt: Type.String({ format: "date-time" }),
});

export const TenantQuery = Type.Object({ tenantId: Type.Optional(TenantIdQuery) }, { additionalProperties: false });

// ---- Identus

export const IdentusWebhookBody = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2048 }),
    customHeaders: Type.Optional(StringMap("headers sent with every notification")),
  },
  { additionalProperties: false },
);
export type IdentusWebhookBody = Static<typeof IdentusWebhookBody>;

export const IdentusWebhook = Type.Object({
  id: Type.String(),
  url: Type.String(),
  customHeaders: StringMap("custom headers"),
  createdAt: Type.String({ format: "date-time" }),
});

export const IdentusWebhookPage = Type.Object({
  self: Type.String(),
  kind: StringEnum(["WebhookNotificationPage"] as const),
  pageOf: Type.String(),
  contents: Type.Array(IdentusWebhook),
});

/** `{data, nextCursor}`: the shape of every /v1 list. */
export function PageOf<T extends TSchema>(item: T) {
  return Type.Object({ data: Type.Array(item), nextCursor: Nullable(Type.String({ description: "pass as cursor for the next page; null on the last" })) });
}

/** Standard error responses for a route, by status. */
export function problems(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(statuses.map((status) => [status, Type.Ref(Problem)]));
}
