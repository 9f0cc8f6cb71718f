/**
 * The one way an event enters Herald, whichever door it comes by (`POST /v1/events`, a batch,
 * `herald.trigger()`, a webhook test send, Herald's own system events): the tenant must exist,
 * each event is checked, validated against its type's JSON Schema, matched to its webhooks,
 * then group-committed with the idempotency rules; the caller is answered after the commit,
 * and the worker is woken for the new deliveries.
 */
import { LRUCache } from "lru-cache";
import type { HeraldEvent } from "../domain/types.js";
import { HeraldError, internalError, notFound } from "../errors.js";
import type { IngestRequest, IngestResult, Store } from "../store/store.js";
import type { EventSchemas, SchemaMemo } from "./event-schemas.js";
import type { HeraldTracing, TraceHeaders } from "../tracing/tracing.js";
import type { GroupCommit } from "./group-commit.js";
import { type EventInput, type IngestLimits, TenantFilterAllowances, makeWebhookTargets, prepareIngest } from "./ingest-event.js";

export interface AcceptOptions {
  /** Name the events `events[i]` in errors (a batch); a single event's fields are named bare. */
  batch?: boolean;
  /** Deliver to this one webhook only, whatever it subscribes to (a test send). */
  deliverTo?: string;
  /**
   * Herald's own event (a system event, a test send): its tenant may be the default one when
   * DEFAULT_WALLET_ENABLED=false made none, which only global webhooks then receive.
   */
  internal?: boolean;
  /** The producer's W3C trace context (its request's traceparent/tracestate): the ingest span's parent when tracing is on. */
  traceHeaders?: TraceHeaders;
}

/** An accepted event, with the deliveries its tenant may read: those to its own webhooks, not to a global (operator) one. */
export interface AcceptedEvent extends IngestResult {
  tenantDeliveryIds: string[];
}

export interface IngestPipeline {
  /** Accepts the events for one tenant, all or none, in one transaction; resolves after commit. */
  accept(tenantId: string, inputs: EventInput[], options?: AcceptOptions): Promise<AcceptedEvent[]>;
  /** accept() for one event. */
  acceptOne(tenantId: string, input: EventInput, options?: AcceptOptions): Promise<AcceptedEvent>;
  /** A tenant deleted in this process: its id is no longer known to exist. */
  forgetTenant(tenantId: string): void;
}

export interface IngestDependencies {
  store: Store;
  limits: IngestLimits;
  schemas: EventSchemas;
  groupCommit: GroupCommit;
  /** New deliveries were committed: the worker should claim. */
  wake(): void;
  /** Absent or null: tracing off, and no span work. */
  tracing?: HeraldTracing | null;
  onEventAccepted?(event: HeraldEvent, deliveryCount: number): void;
}

/** Tenants known to exist are remembered briefly (single-process stores), so each ingest does not cost a store read. */
const KNOWN_TENANTS = 10_000;
const KNOWN_TENANT_MS = 5_000;

export function makeIngestPipeline(deps: IngestDependencies): IngestPipeline {
  const knownTenants = new LRUCache<string, true>({ max: KNOWN_TENANTS, ttl: KNOWN_TENANT_MS });
  const filterAllowances = new TenantFilterAllowances();

  // With several processes on one store, a tenant deleted by another process must not take
  // events here for another 5 s (they would outlive the deletion): there, every call reads.
  const cacheTenants = !deps.store.capabilities.multiProcess;

  async function assertTenant(tenantId: string): Promise<void> {
    if (cacheTenants && knownTenants.has(tenantId)) return;
    if (!(await deps.store.getTenant(tenantId))) throw notFound.tenant(tenantId, "tenantId");
    if (cacheTenants) knownTenants.set(tenantId, true);
  }

  interface Prepared {
    requests: IngestRequest[];
    /** Global webhooks among the targets: their deliveries are left out of what the tenant is shown. */
    globalWebhooks: ReadonlySet<string>;
  }

  async function prepare(tenantId: string, inputs: EventInput[], options: AcceptOptions): Promise<Prepared> {
    const now = Date.now();
    const { deliverTo } = options;
    const subscribers = deliverTo !== undefined ? [] : await deps.store.listSubscribers(tenantId);
    const webhooksFor = deliverTo !== undefined ? () => [deliverTo] : makeWebhookTargets(subscribers, filterAllowances.of(tenantId));
    const globalWebhooks = new Set(subscribers.filter((webhook) => webhook.tenantId === null).map((webhook) => webhook.id));
    const memo: SchemaMemo = new Map();
    const requests: IngestRequest[] = [];
    for (const [i, input] of inputs.entries()) {
      try {
        const request = prepareIngest(tenantId, input, deps.limits, now, webhooksFor);
        // A type known to have no schema (null in the memo) needs no check, and no await per event.
        if (memo.get(request.event.type) !== null) await deps.schemas.check(tenantId, request.event.type, request.event.data, request.serialized.data.length, "data", memo);
        requests.push(request);
      } catch (error) {
        if (options.batch && error instanceof HeraldError && error.field) {
          throw new HeraldError(error.code, `events[${i}].${error.message}`, { field: `events[${i}].${error.field}`, cause: error });
        }
        throw error;
      }
    }
    return { requests, globalWebhooks };
  }

  /** The deliveries of a fresh event the tenant may read: all but those to global webhooks. */
  function freshTenantDeliveries(result: IngestResult, request: IngestRequest, globalWebhooks: ReadonlySet<string>): string[] {
    if (globalWebhooks.size === 0) return result.deliveryIds;
    return request.deliveries.filter((delivery) => !globalWebhooks.has(delivery.webhookId)).map((delivery) => delivery.id);
  }

  /** A replay answers with the deliveries the first acceptance made; the tenant's are read back (replays are rare). */
  async function replayedTenantDeliveries(result: IngestResult): Promise<string[]> {
    const own = await deps.store.listDeliveries({ tenantId: result.event.tenantId, eventId: result.event.id, webhookTenantId: result.event.tenantId, limit: 1000 });
    const ownIds = new Set(own.items.map((delivery) => delivery.id));
    return result.deliveryIds.filter((id) => ownIds.has(id));
  }

  /** Not async: without tracing, the caller gets acceptIn's own promise, with no extra hop. */
  function accept(tenantId: string, inputs: EventInput[], options: AcceptOptions = {}): Promise<AcceptedEvent[]> {
    if (!deps.tracing) return acceptIn(tenantId, inputs, options, null);
    return acceptTraced(deps.tracing, tenantId, inputs, options);
  }

  async function acceptTraced(tracing: HeraldTracing, tenantId: string, inputs: EventInput[], options: AcceptOptions): Promise<AcceptedEvent[]> {
    const span = tracing.startIngest(tenantId, inputs.length, options.traceHeaders);
    try {
      const accepted = await acceptIn(tenantId, inputs, options, span.stored);
      span.accepted(accepted);
      return accepted;
    } catch (error) {
      span.failed(error);
      throw error;
    }
  }

  /** `traceContext`: stored with each event, so its attempts join the trace it was accepted in. */
  async function acceptIn(tenantId: string, inputs: EventInput[], options: AcceptOptions, traceContext: string | null): Promise<AcceptedEvent[]> {
    if (!options.internal) await assertTenant(tenantId);
    const { requests, globalWebhooks } = await prepare(tenantId, inputs, options);
    if (traceContext !== null) for (const request of requests) request.traceContext = traceContext;
    const results = await deps.groupCommit.submit(requests);
    let fresh = false;
    for (const result of results) {
      if (result.duplicate) continue;
      if (result.deliveryIds.length > 0) fresh = true;
      deps.onEventAccepted?.(result.event, result.deliveryIds.length);
    }
    if (fresh) deps.wake();
    // No promise per event: only a replay reads anything back.
    const accepted = results.map((result, i): AcceptedEvent => ({
      ...result,
      tenantDeliveryIds: result.duplicate ? [] : freshTenantDeliveries(result, requests[i]!, globalWebhooks),
    }));
    if (!results.some((result) => result.duplicate)) return accepted;
    return Promise.all(accepted.map(async (event) => (event.duplicate ? { ...event, tenantDeliveryIds: await replayedTenantDeliveries(event) } : event)));
  }

  return {
    accept,
    async acceptOne(tenantId, input, options) {
      const [result] = await accept(tenantId, [input], options);
      if (!result) throw internalError("the store answered an ingest of one event with no result");
      return result;
    },
    forgetTenant(tenantId) {
      knownTenants.delete(tenantId);
    },
  };
}
