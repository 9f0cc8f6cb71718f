/**
 * How domain objects look on the wire: times as ISO-8601 strings (as Identus does), secrets and
 * credentials masked, and internal fields left out.
 */
import type { ApiKey, Attempt, Delivery, EventType, HeraldEvent, Page, RecoveryJob, Tenant, Webhook } from "../domain/types.js";
import { REDACTED, maskIfSensitive, shownHeaders } from "../domain/webhook-headers.js";
import { redactWebhook } from "../domain/webhook-input.js";
import { badRequest } from "../errors.js";

export const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

export function presentWebhook(webhook: Webhook) {
  const redacted = redactWebhook(webhook);
  return { ...redacted, createdAt: iso(webhook.createdAt), updatedAt: iso(webhook.updatedAt) };
}

export function presentEvent(event: HeraldEvent) {
  return { id: event.id, tenantId: event.tenantId, type: event.type, data: event.data, metadata: event.metadata, createdAt: iso(event.createdAt) };
}

export function presentDelivery(delivery: Delivery) {
  return {
    id: delivery.id,
    eventId: delivery.eventId,
    webhookId: delivery.webhookId,
    tenantId: delivery.tenantId,
    eventType: delivery.eventType,
    status: delivery.state,
    attemptCount: delivery.attemptCount,
    nextAttemptAt: isoOrNull(delivery.nextAttemptAt),
    lastStatus: delivery.lastStatus,
    lastError: delivery.lastError,
    createdAt: iso(delivery.createdAt),
    updatedAt: iso(delivery.updatedAt),
    completedAt: isoOrNull(delivery.completedAt),
  };
}

export function presentAttempt(attempt: Attempt) {
  return {
    id: attempt.id,
    attemptNumber: attempt.attemptNumber,
    startedAt: iso(attempt.startedAt),
    durationMs: attempt.durationMs,
    request: {
      method: attempt.request.method,
      url: attempt.request.url,
      // The dispatcher already redacts what it records; masking credential-like names again guards rows recorded before it did.
      headers: Object.fromEntries(Object.entries(attempt.request.headers).map(([k, v]) => [k, v === REDACTED ? v : maskIfSensitive(k, v)])),
    },
    response: attempt.response,
    errorClass: attempt.errorClass,
    errorMessage: attempt.errorMessage,
  };
}

export const presentTenant = (tenant: Tenant) => ({ id: tenant.id, name: tenant.name, createdAt: iso(tenant.createdAt) });

export const presentApiKey = (key: ApiKey) => ({
  id: key.id,
  tenantId: key.tenantId,
  name: key.name,
  prefix: key.prefix,
  createdAt: iso(key.createdAt),
  revokedAt: isoOrNull(key.revokedAt),
});

export const presentEventType = (eventType: EventType) => ({
  name: eventType.name,
  description: eventType.description,
  schema: eventType.schema ?? null,
  createdAt: iso(eventType.createdAt),
});

export const presentRecovery = (job: RecoveryJob) => ({
  id: job.id,
  webhookId: job.webhookId,
  since: iso(job.since),
  requeued: job.requeued,
  status: job.status,
  createdAt: iso(job.createdAt),
  updatedAt: iso(job.updatedAt),
});

/** Every /v1 list: `{data, nextCursor}`. */
export function presentPage<T, R>(page: Page<T>, present: (item: T) => R): { data: R[]; nextCursor: string | null } {
  return { data: page.items.map(present), nextCursor: page.nextCursor };
}

/** The Identus webhook shape (seeds 001/002); header values masked as in /v1 unless `revealHeaders` (the create echo). */
export function presentIdentusWebhook(webhook: Webhook, revealHeaders = false) {
  const customHeaders = revealHeaders ? webhook.headers : shownHeaders(webhook);
  return { id: webhook.id, url: webhook.url, customHeaders, createdAt: iso(webhook.createdAt) };
}

/** `since`/`until` values: ISO-8601 or epoch milliseconds. */
export function parseTime(field: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  // A number past what a Date can hold (year 275760) would fail later, when the time is shown.
  if (!Number.isFinite(ms) || Number.isNaN(new Date(ms).getTime())) {
    throw badRequest(field, `${JSON.stringify(value)} is not a time; use ISO-8601 (2024-01-31T12:00:00Z) or epoch milliseconds`);
  }
  return ms;
}
