/**
 * Ingest: an event and one delivery per matching webhook, written in one transaction. The
 * caller is answered only after commit, so anything acknowledged survives a crash.
 */
import { assertEventType, matchesEventType } from "../domain/event-patterns.js";
import { isUuid, uuidv7 } from "../domain/ids.js";
import type { HeraldEvent } from "../domain/types.js";
import { invalidField, tooLarge } from "../errors.js";
import type { IngestRequest, Store } from "../store/store.js";

export interface EventInput {
  type: string;
  data: unknown;
  metadata?: Record<string, unknown> | null;
  /** Caller-given event id (a UUID): posting it again within the idempotency window returns the original. */
  id?: string;
  idempotencyKey?: string;
}

export interface IngestLimits {
  /** Largest `data` + `metadata` accepted, as JSON bytes. */
  maxPayloadBytes: number;
  idempotencyWindowMs: number;
}

export const DEFAULT_INGEST_LIMITS: IngestLimits = {
  maxPayloadBytes: 256 * 1024,
  idempotencyWindowMs: 24 * 3_600_000,
};

/** Checks one event and turns it into a store request: which webhooks get it is decided here. */
export async function prepareIngest(
  store: Store,
  tenantId: string,
  input: EventInput,
  limits: IngestLimits,
  now: number,
  /** The tenant's subscribers, when the caller already has them (a batch reads them once). */
  knownSubscribers?: Array<{ id: string; events: string[] }>,
  /** Deliver to this one webhook only, whatever it subscribes to (a test send). */
  deliverTo?: string,
): Promise<IngestRequest> {
  if (typeof input !== "object" || input === null) throw invalidField("event", "must be an object with type and data");
  assertEventType(input.type);
  if (input.data === undefined) throw invalidField("data", "is required: the event's JSON payload (use {} for none)");
  if (input.metadata !== undefined && input.metadata !== null && (typeof input.metadata !== "object" || Array.isArray(input.metadata))) {
    throw invalidField("metadata", "must be a JSON object or left out");
  }
  if (input.id !== undefined && (typeof input.id !== "string" || !isUuid(input.id))) {
    throw invalidField("id", "must be a UUID such as 3f1e4d5c-...; leave it out to have one generated");
  }
  if (input.idempotencyKey !== undefined && (typeof input.idempotencyKey !== "string" || input.idempotencyKey.length === 0 || input.idempotencyKey.length > 255)) {
    throw invalidField("idempotencyKey", "must be a non-empty string of at most 255 characters");
  }
  let serialized: { data: string; metadata: string | null };
  try {
    serialized = { data: JSON.stringify(input.data), metadata: input.metadata ? JSON.stringify(input.metadata) : null };
  } catch (cause) {
    throw invalidField("data", "must be JSON-serialisable (no cycles, no BigInt)", cause);
  }
  const size = Buffer.byteLength(serialized.data) + (serialized.metadata === null ? 0 : Buffer.byteLength(serialized.metadata));
  if (size > limits.maxPayloadBytes) {
    throw tooLarge("data", `the event payload is ${size} bytes; the limit is ${limits.maxPayloadBytes} bytes`);
  }
  const event: HeraldEvent = {
    id: input.id?.toLowerCase() ?? uuidv7(now),
    tenantId,
    type: input.type,
    data: input.data,
    metadata: input.metadata ?? null,
    createdAt: now,
  };
  const deliveries =
    deliverTo !== undefined
      ? [{ id: uuidv7(now), webhookId: deliverTo }]
      : (knownSubscribers ?? (await store.listSubscribers(tenantId)))
          .filter((webhook) => matchesEventType(webhook.events, event.type))
          .map((webhook) => ({ id: uuidv7(now), webhookId: webhook.id }));
  return { event, deliveries, idempotencyKey: input.idempotencyKey ?? null, idempotencyWindowMs: limits.idempotencyWindowMs, serialized };
}
