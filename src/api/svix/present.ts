/** Herald's records in Svix's shapes (ApplicationOut, EndpointOut, MessageOut, MessageAttemptOut, EventTypeOut). */
import type { EventType, HeraldEvent, Tenant, Webhook } from "../../domain/types.js";
import type { EventAttempt } from "../../store/store.js";

const iso = (ms: number): string => new Date(ms).toISOString();

/** Svix's list envelope over one of Herald's pages: the iterator is Herald's cursor. */
export function listOf<T>(data: T[], nextCursor: string | null) {
  return { data, iterator: nextCursor, prevIterator: null, done: nextCursor === null };
}

export function presentApplication(tenant: Tenant) {
  return {
    id: tenant.id,
    uid: tenant.uid ?? null,
    name: tenant.name,
    metadata: tenant.metadata ?? {},
    rateLimit: null,
    throttleRate: null,
    createdAt: iso(tenant.createdAt),
    updatedAt: iso(tenant.updatedAt ?? tenant.createdAt),
  };
}

/** Svix metadata is a map of strings; a value set through /v1 that is not a string is shown as its JSON. */
function stringMap(metadata: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata).map(([key, value]) => [key, typeof value === "string" ? value : JSON.stringify(value)]));
}

export function presentEndpoint(webhook: Webhook) {
  return {
    id: webhook.id,
    uid: webhook.uid ?? null,
    url: webhook.url,
    description: webhook.description,
    // Herald's "*" (every event type) is Svix's absent filter.
    filterTypes: webhook.events.includes("*") ? null : webhook.events,
    channels: webhook.channels ?? null,
    rateLimit: webhook.rateLimitPerSecond,
    throttleRate: webhook.rateLimitPerSecond,
    disabled: webhook.status !== "active",
    metadata: stringMap(webhook.metadata),
    version: 1,
    createdAt: iso(webhook.createdAt),
    updatedAt: iso(webhook.updatedAt),
  };
}

/** A message's eventId and channels are kept in its event's metadata under those names. */
export interface MessageExtras {
  eventId?: string;
  channels?: string[];
}

export function presentMessage(event: HeraldEvent, withContent = true) {
  const extras = (event.metadata ?? {}) as MessageExtras;
  return {
    id: event.id,
    eventId: typeof extras.eventId === "string" ? extras.eventId : null,
    eventType: event.type,
    payload: withContent ? event.data : {},
    channels: Array.isArray(extras.channels) ? extras.channels : null,
    tags: null,
    deliverAt: null,
    timestamp: iso(event.createdAt),
  };
}

/** Svix's MessageStatus: 0 success, 1 pending, 2 fail, 3 sending. A recorded attempt is a success or a failure. */
export const ATTEMPT_SUCCESS = 0;
export const ATTEMPT_FAIL = 2;

export function attemptSucceeded(attempt: EventAttempt): boolean {
  const status = attempt.response?.status;
  return status !== undefined && status >= 200 && status < 300;
}

export function presentAttempt(attempt: EventAttempt, message?: HeraldEvent) {
  const success = attemptSucceeded(attempt);
  return {
    id: attempt.id,
    msgId: attempt.eventId,
    endpointId: attempt.webhookId,
    url: attempt.request.url,
    response: attempt.response?.body ?? attempt.errorMessage ?? "",
    responseStatusCode: attempt.response?.status ?? 0,
    responseDurationMs: Math.round(attempt.durationMs),
    status: success ? ATTEMPT_SUCCESS : ATTEMPT_FAIL,
    statusText: success ? "success" : "fail",
    // Herald records the first attempt and its retries alike; a manual retry is not told apart.
    triggerType: 0,
    timestamp: iso(attempt.startedAt),
    ...(message ? { msg: presentMessage(message) } : {}),
  };
}

export function presentEventType(eventType: EventType) {
  return {
    name: eventType.name,
    description: eventType.description,
    schemas: eventType.schema === null || eventType.schema === undefined ? null : { "1": eventType.schema },
    archived: false,
    deprecated: false,
    featureFlag: null,
    featureFlags: null,
    groupName: null,
    createdAt: iso(eventType.createdAt),
    updatedAt: iso(eventType.createdAt),
  };
}
