/** Row <-> domain mapping for the SQL stores. Column names are the same in SQLite and PostgreSQL. */
import type { SecretBox } from "../secrets/secret-box.js";
import type {
  Attempt, AttemptErrorClass, Delivery, DeliveryState, EventType, HeraldEvent, HttpMethod, PayloadFormat, RecoveryJob, RetryPolicy,
  Tenant, Webhook, WebhookAuth, WebhookKind, WebhookStatus, WebhookTls,
} from "../domain/types.js";
import { joinProxyCredentials, splitProxyCredentials } from "../domain/webhook-egress.js";
import type { StoredApiKey } from "./store.js";

export interface WebhookRow {
  id: string;
  tenant_id: string | null;
  kind: string;
  name: string;
  url: string;
  description: string;
  events: string;
  method: string;
  auth_type: string;
  sealed: string;
  retry: string;
  timeout_ms: number;
  status: string;
  disabled_reason: string | null;
  payload_format: string;
  rate_limit_per_second: number | null;
  max_concurrency: number;
  ordered: number | boolean;
  propagate_trace_context: number | boolean;
  metadata: string;
  uid: string | null;
  channels: string | null;
  filter: string | null;
  /** The webhook's proxy URL without credentials, or "direct"; NULL: the server's. */
  proxy_url: string | null;
  failing_since: number | string | null;
  created_at: number | string;
  updated_at: number | string;
}

/** What is sealed: everything that could let someone impersonate Herald or reach the receiver. */
interface SealedParts {
  secrets: Webhook["secrets"];
  auth: WebhookAuth;
  headers: Record<string, string>;
  /** Which header values may be shown; sealed with the headers it is about. Absent in rows made before it existed. */
  publicHeaders?: string[];
  /** The `user:password` of the webhook's proxy URL (the rest is in proxy_url); absent without one. */
  proxyAuth?: string;
  /** mTLS material: client certificate, key, passphrase, CA; absent without it. */
  tls?: WebhookTls;
}

export function webhookToRow(webhook: Webhook, box: SecretBox): WebhookRow {
  const sealed: SealedParts = { secrets: webhook.secrets, auth: webhook.auth, headers: webhook.headers, publicHeaders: webhook.publicHeaders };
  const proxy = webhook.proxyUrl ? splitProxyCredentials(webhook.proxyUrl) : null;
  if (proxy?.userinfo) sealed.proxyAuth = proxy.userinfo;
  if (webhook.tls) sealed.tls = webhook.tls;
  return {
    id: webhook.id,
    tenant_id: webhook.tenantId,
    kind: webhook.kind,
    name: webhook.name,
    url: webhook.url,
    description: webhook.description,
    events: JSON.stringify(webhook.events),
    method: webhook.method,
    auth_type: webhook.auth.type,
    sealed: box.seal(JSON.stringify(sealed)),
    retry: JSON.stringify(webhook.retry),
    timeout_ms: webhook.timeoutMs,
    status: webhook.status,
    disabled_reason: webhook.disabledReason,
    payload_format: webhook.payloadFormat,
    rate_limit_per_second: webhook.rateLimitPerSecond,
    max_concurrency: webhook.maxConcurrency,
    ordered: webhook.ordered ? 1 : 0,
    propagate_trace_context: webhook.propagateTraceContext ? 1 : 0,
    metadata: JSON.stringify(webhook.metadata),
    uid: webhook.uid ?? null,
    channels: webhook.channels ? JSON.stringify(webhook.channels) : null,
    filter: webhook.filter ? JSON.stringify(webhook.filter) : null,
    proxy_url: proxy?.url ?? null,
    failing_since: webhook.failingSince,
    created_at: webhook.createdAt,
    updated_at: webhook.updatedAt,
  };
}

export function rowToWebhook(row: WebhookRow, box: SecretBox): Webhook {
  const sealed = JSON.parse(box.open(row.sealed)) as SealedParts;
  return {
    id: row.id,
    tenantId: row.tenant_id,
    kind: row.kind as WebhookKind,
    name: row.name,
    url: row.url,
    description: row.description,
    events: JSON.parse(row.events) as string[],
    method: row.method as HttpMethod,
    headers: sealed.headers,
    ...(sealed.publicHeaders === undefined ? {} : { publicHeaders: sealed.publicHeaders }),
    auth: sealed.auth,
    secrets: sealed.secrets,
    retry: JSON.parse(row.retry) as RetryPolicy,
    timeoutMs: row.timeout_ms,
    status: row.status as WebhookStatus,
    disabledReason: row.disabled_reason,
    payloadFormat: row.payload_format as PayloadFormat,
    rateLimitPerSecond: row.rate_limit_per_second,
    maxConcurrency: row.max_concurrency,
    ordered: Boolean(row.ordered),
    propagateTraceContext: Boolean(row.propagate_trace_context),
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    uid: row.uid ?? null,
    channels: row.channels ? (JSON.parse(row.channels) as string[]) : null,
    filter: row.filter ? (JSON.parse(row.filter) as Record<string, unknown>) : null,
    ...(row.proxy_url ? { proxyUrl: joinProxyCredentials(row.proxy_url, sealed.proxyAuth) } : {}),
    ...(sealed.tls ? { tls: sealed.tls } : {}),
    failingSince: row.failing_since === null || row.failing_since === undefined ? null : Number(row.failing_since),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export interface RecoveryJobRow {
  id: string;
  webhook_id: string;
  since: number | string;
  cursor: string | null;
  requeued: number | string;
  status: string;
  created_at: number | string;
  updated_at: number | string;
}

export const rowToRecoveryJob = (row: RecoveryJobRow): RecoveryJob => ({
  id: row.id,
  webhookId: row.webhook_id,
  since: Number(row.since),
  cursor: row.cursor,
  requeued: Number(row.requeued),
  status: row.status as RecoveryJob["status"],
  createdAt: Number(row.created_at),
  updatedAt: Number(row.updated_at),
});

export interface EventRow {
  id: string;
  tenant_id: string;
  type: string;
  data: string;
  metadata: string | null;
  idempotency_key?: string | null;
  created_at: number | string;
}

export function rowToEvent(row: EventRow): HeraldEvent {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    type: row.type,
    data: JSON.parse(row.data) as unknown,
    metadata: row.metadata === null ? null : (JSON.parse(row.metadata) as Record<string, unknown>),
    createdAt: Number(row.created_at),
  };
}

export interface DeliveryRow {
  id: string;
  event_id: string;
  webhook_id: string;
  tenant_id: string;
  event_type: string;
  state: string;
  attempt_count: number;
  next_attempt_at: number | string | null;
  last_status: number | null;
  last_error: string | null;
  created_at: number | string;
  updated_at: number | string;
  completed_at: number | string | null;
}

const optionalNumber = (value: number | string | null): number | null => (value === null ? null : Number(value));

export function rowToDelivery(row: DeliveryRow): Delivery {
  return {
    id: row.id,
    eventId: row.event_id,
    webhookId: row.webhook_id,
    tenantId: row.tenant_id,
    eventType: row.event_type,
    state: row.state as DeliveryState,
    attemptCount: row.attempt_count,
    nextAttemptAt: optionalNumber(row.next_attempt_at),
    lastStatus: row.last_status,
    lastError: row.last_error,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    completedAt: optionalNumber(row.completed_at),
  };
}

export interface AttemptRow {
  id: string;
  delivery_id: string;
  webhook_id: string;
  attempt_number: number;
  started_at: number | string;
  duration_ms: number;
  request_method: string;
  request_url: string;
  request_headers: string;
  response_status: number | null;
  response_headers: string | null;
  response_body: string | null;
  error_class: string | null;
  error_message: string | null;
}

export function attemptToRow(attempt: Attempt): AttemptRow {
  return {
    id: attempt.id,
    delivery_id: attempt.deliveryId,
    webhook_id: attempt.webhookId,
    attempt_number: attempt.attemptNumber,
    started_at: attempt.startedAt,
    duration_ms: attempt.durationMs,
    request_method: attempt.request.method,
    request_url: attempt.request.url,
    request_headers: JSON.stringify(attempt.request.headers),
    response_status: attempt.response?.status ?? null,
    response_headers: attempt.response ? JSON.stringify(attempt.response.headers) : null,
    response_body: attempt.response?.body ?? null,
    error_class: attempt.errorClass,
    error_message: attempt.errorMessage,
  };
}

export function rowToAttempt(row: AttemptRow): Attempt {
  return {
    id: row.id,
    deliveryId: row.delivery_id,
    webhookId: row.webhook_id,
    attemptNumber: row.attempt_number,
    startedAt: Number(row.started_at),
    durationMs: row.duration_ms,
    request: { method: row.request_method, url: row.request_url, headers: JSON.parse(row.request_headers) as Record<string, string> },
    response:
      row.response_status === null
        ? null
        : {
            status: row.response_status,
            headers: JSON.parse(row.response_headers ?? "{}") as Record<string, string>,
            body: row.response_body ?? "",
          },
    errorClass: row.error_class as AttemptErrorClass | null,
    errorMessage: row.error_message,
  };
}

export interface TenantRow {
  id: string;
  name: string;
  uid: string | null;
  metadata: string | null;
  created_at: number | string;
  updated_at: number | string | null;
}

export const rowToTenant = (row: TenantRow): Tenant => ({
  id: row.id,
  name: row.name,
  uid: row.uid ?? null,
  metadata: row.metadata ? (JSON.parse(row.metadata) as Record<string, string>) : {},
  createdAt: Number(row.created_at),
  updatedAt: Number(row.updated_at ?? row.created_at),
});

export interface ApiKeyRow {
  id: string;
  tenant_id: string;
  name: string;
  prefix: string;
  hash: string;
  created_at: number | string;
  revoked_at: number | string | null;
}

export const rowToApiKey = (row: ApiKeyRow): StoredApiKey => ({
  id: row.id,
  tenantId: row.tenant_id,
  name: row.name,
  prefix: row.prefix,
  hash: row.hash,
  createdAt: Number(row.created_at),
  revokedAt: optionalNumber(row.revoked_at),
});

export interface EventTypeRow {
  tenant_id: string;
  name: string;
  description: string;
  schema: string | null;
  created_at: number | string;
}

export const rowToEventType = (row: EventTypeRow): EventType => ({
  tenantId: row.tenant_id,
  name: row.name,
  description: row.description,
  schema: row.schema === null ? null : (JSON.parse(row.schema) as unknown),
  createdAt: Number(row.created_at),
});

export function pageOf<T extends { id: string }>(rows: T[], limit: number): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? (items[items.length - 1]?.id ?? null) : null };
}
