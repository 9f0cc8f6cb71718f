/**
 * Ingest: an event and one delivery per matching webhook, written in one transaction. The
 * caller is answered only after commit, so anything acknowledged survives a crash.
 */
import { assertEventType, matchesEventType } from "../domain/event-patterns.js";
import { isUuid, uuidv7 } from "../domain/ids.js";
import { assertJsonValue, assertStorableText } from "../domain/json-limits.js";
import { type FilteredEvent, type PayloadFilterTester, payloadFilterTester } from "../domain/payload-filter.js";
import type { HeraldEvent } from "../domain/types.js";
import { HeraldError, invalidField, tooLarge } from "../errors.js";
import type { IngestRequest } from "../store/store.js";

export interface EventInput {
  type: string;
  data: unknown;
  metadata?: Record<string, unknown> | null;
  /** Caller-given event id (a UUID): posting it again within the idempotency window returns the original. */
  id?: string;
  idempotencyKey?: string;
  /**
   * Svix channels the event is sent to: webhooks with channels of their own get it only when
   * one is shared; without channels, only webhooks that take every channel get it. Checked by the caller (checkChannels).
   */
  channels?: string[] | null;
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

/** Filter work one ingest call may spend, its events together; past it the call is refused (a 422 naming `filter`). */
export const FILTER_CALL_BUDGET_MS = 250;
/** Filter work one tenant may spend per second in a process, on average: a quarter of a core. */
export const TENANT_FILTER_MS_PER_SECOND = 250;
/** ... and at most this much at once, after a quiet spell. */
export const TENANT_FILTER_BURST_MS = 1_000;

/** What a tenant has left of its filter allowance; the caller charges what an evaluation took. */
export interface FilterAllowance {
  left(): number;
  spend(ms: number): void;
}

/**
 * One process's filter allowances by tenant, token buckets of TENANT_FILTER_MS_PER_SECOND
 * refilled continuously up to TENANT_FILTER_BURST_MS. A call is bounded by FILTER_CALL_BUDGET_MS,
 * but a tenant sending many calls with costly filters would still keep the process's one event
 * loop busy, for every tenant: past its allowance its events are refused with a 429 until it refills.
 */
export class TenantFilterAllowances {
  private readonly buckets = new Map<string, { ms: number; at: number }>();

  constructor(private readonly clock: () => number = () => performance.now()) {}

  of(tenantId: string): FilterAllowance {
    const now = this.clock();
    let bucket = this.buckets.get(tenantId);
    if (bucket === undefined) {
      if (this.buckets.size >= 10_000) this.forgetFull(now);
      this.buckets.set(tenantId, (bucket = { ms: TENANT_FILTER_BURST_MS, at: now }));
    }
    const current = bucket;
    return {
      left: () => {
        const at = this.clock();
        current.ms = Math.min(TENANT_FILTER_BURST_MS, current.ms + ((at - current.at) * TENANT_FILTER_MS_PER_SECOND) / 1_000);
        current.at = at;
        return current.ms;
      },
      spend: (ms) => {
        current.ms -= ms;
      },
    };
  }

  /** Buckets that have refilled are the same as none: dropped so that the map stays small. */
  private forgetFull(now: number): void {
    for (const [tenantId, bucket] of this.buckets) {
      if (bucket.ms + ((now - bucket.at) * TENANT_FILTER_MS_PER_SECOND) / 1_000 >= TENANT_FILTER_BURST_MS) this.buckets.delete(tenantId);
    }
  }
}

/** Which webhooks an event goes to: by its type, the channels it was sent to, and (for webhooks with a payload filter) its content. */
export type WebhookTargets = (type: string, channels?: readonly string[] | null, event?: Pick<HeraldEvent, "data" | "metadata">) => readonly string[];

/**
 * The webhooks an event of a type goes to, for one ingest call: each type is matched against
 * the tenant's subscribers once, not once per event (a batch is mostly one type). Payload
 * filters are evaluated per event, and only for the webhooks of its type that have one: a
 * tenant without filters pays nothing for them.
 */
export function makeWebhookTargets(
  subscribers: Array<{ id: string; events: string[]; channels?: string[] | null; filter?: string | null }>,
  allowance?: FilterAllowance,
): WebhookTargets {
  const byType = new Map<string, { webhooks: typeof subscribers; ids: string[]; filtered: boolean }>();
  const anyChannel = subscribers.some((webhook) => webhook.channels);
  const filters = filtersOf(subscribers);
  // One ingest call's filter work, all its events together: each evaluation is bounded
  // (payload-filter-evaluate.ts), but a batch of events times costly filters is not.
  let filterMs = 0;
  const passes = (tester: PayloadFilterTester, envelope: FilteredEvent): boolean => {
    if (filterMs > FILTER_CALL_BUDGET_MS) {
      throw invalidField(
        "filter",
        `the payload filters of the webhooks these events go to took more than ${FILTER_CALL_BUDGET_MS} ms in this request; ` +
          "send fewer events per request, or simplify the webhooks' filters (nothing of this request was accepted)",
      );
    }
    if (allowance !== undefined && allowance.left() <= 0) {
      throw new HeraldError(
        "HERALD_ERR_RATE_LIMITED",
        `filter: this tenant's webhooks' payload filters used their allowance of ${TENANT_FILTER_MS_PER_SECOND} ms per second; ` +
          "retry in a few seconds, or simplify the filters (nothing of this request was accepted)",
        { field: "filter" },
      );
    }
    const started = performance.now();
    try {
      return tester(envelope);
    } finally {
      const took = performance.now() - started;
      filterMs += took;
      allowance?.spend(took);
    }
  };
  return (type, channels, event) => {
    let matching = byType.get(type);
    if (matching === undefined) {
      const webhooks = subscribers.filter((webhook) => matchesEventType(webhook.events, type));
      const filtered = filters !== null && webhooks.some((webhook) => filters.has(webhook.id));
      byType.set(type, (matching = { webhooks, ids: webhooks.map((webhook) => webhook.id), filtered }));
    }
    if (!anyChannel && !channels && !matching.filtered) return matching.ids;
    // A webhook with channels takes only events sent to one of them; one without takes every event.
    const sent = channels ?? [];
    const envelope = matching.filtered ? { type, data: event?.data, metadata: event?.metadata ?? null } : null;
    return matching.webhooks
      .filter((webhook) =>
        (!webhook.channels || sent.some((channel) => webhook.channels!.includes(channel))) &&
        (envelope === null || filters?.get(webhook.id) === undefined || passes(filters.get(webhook.id)!, envelope)))
      .map((webhook) => webhook.id);
  };
}

/** Each subscriber's compiled payload filter, by webhook id; null when none has one (the common case). */
function filtersOf(subscribers: ReadonlyArray<{ id: string; filter?: string | null }>): Map<string, PayloadFilterTester> | null {
  let filters: Map<string, PayloadFilterTester> | null = null;
  for (const webhook of subscribers) {
    if (webhook.filter) (filters ??= new Map()).set(webhook.id, payloadFilterTester(webhook.filter));
  }
  return filters;
}

/**
 * Checks one event and turns it into a store request; `webhooksFor` decides which webhooks
 * get it. Synchronous: a batch of 100 paid two awaits per event when this read subscribers itself.
 */
export function prepareIngest(
  tenantId: string,
  input: EventInput,
  limits: IngestLimits,
  now: number,
  webhooksFor: WebhookTargets,
): IngestRequest & Required<Pick<IngestRequest, "serialized">> {
  if (typeof input !== "object" || input === null) throw invalidField("event", "must be an object with type and data");
  // Before anything recursive (JSON.stringify here, the event type's schema after): a 100,000-level document overflows the stack.
  assertJsonValue(input.data, "data");
  assertJsonValue(input.metadata, "metadata");
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
  if (input.idempotencyKey !== undefined) assertStorableText(input.idempotencyKey, "idempotencyKey");
  let serialized: { data: string; metadata: string | null };
  try {
    serialized = { data: JSON.stringify(input.data), metadata: input.metadata ? JSON.stringify(input.metadata) : null };
  } catch (cause) {
    throw invalidField("data", "must be JSON-serialisable (no cycles, no BigInt)", cause);
  }
  const size = payloadBytes(serialized, limits.maxPayloadBytes);
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
  const deliveries = webhooksFor(event.type, input.channels, event).map((webhookId) => ({ id: uuidv7(now), webhookId }));
  return { event, deliveries, idempotencyKey: input.idempotencyKey ?? null, idempotencyWindowMs: limits.idempotencyWindowMs, serialized };
}

/** UTF-8 bytes of the payload, counted only when its length could reach `limit` (a UTF-16 unit is at most 3 bytes). */
function payloadBytes(serialized: { data: string; metadata: string | null }, limit: number): number {
  const units = serialized.data.length + (serialized.metadata?.length ?? 0);
  if (units * 3 <= limit) return units;
  return Buffer.byteLength(serialized.data) + (serialized.metadata === null ? 0 : Buffer.byteLength(serialized.metadata));
}
