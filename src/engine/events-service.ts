/** Events: accepting them (every door goes through ctx.ingest) and reading them back. */
import type { SystemEventType } from "../domain/event-patterns.js";
import type { HeraldEvent, Page } from "../domain/types.js";
import { notFound } from "../errors.js";
import type { EventInput } from "../ingest/ingest-event.js";
import type { AcceptedEvent } from "../ingest/ingest-pipeline.js";
import type { EventFilter } from "../store/store.js";
import type { TraceHeaders } from "../tracing/tracing.js";
import type { EngineContext } from "./context.js";
import { eventTenant, listTenant, pageCursor, type Scope } from "./scope.js";

export interface TriggerOptions extends Scope {
  id?: string;
  idempotencyKey?: string;
  /** Svix channels (see EventInput.channels). */
  channels?: string[] | null;
  /** The producer's W3C trace context (traceparent/tracestate), when tracing is on (docs/observability.md). */
  traceHeaders?: TraceHeaders;
}

/** triggerMany's options: the scope, and the producer's trace context. */
export type TriggerManyOptions = Scope & Pick<TriggerOptions, "traceHeaders">;

export interface TriggerResult {
  event: HeraldEvent;
  /** Every delivery the event made, global webhooks' included. */
  deliveries: string[];
  /** The deliveries to the tenant's own webhooks: what a tenant may be shown (a global webhook's are the operator's). */
  tenantDeliveries: string[];
  duplicate: boolean;
}

export interface EventService {
  trigger(type: string, data: unknown, metadata?: Record<string, unknown> | null, options?: TriggerOptions): Promise<TriggerResult>;
  /** Several events in one transaction: all or none. */
  triggerMany(events: EventInput[], options?: TriggerManyOptions): Promise<TriggerResult[]>;
  /** Emits one of Herald's own events; failures are reported through onError, never thrown. */
  emitSystemEvent(type: SystemEventType, data: Record<string, unknown>, tenantId?: string): void;
  get(id: string, scope?: Scope): Promise<HeraldEvent>;
  list(filter?: Omit<EventFilter, "tenantId"> & Scope & { allTenants?: boolean }): Promise<Page<HeraldEvent>>;
}

const toResult = (result: AcceptedEvent): TriggerResult => ({
  event: result.event,
  deliveries: result.deliveryIds,
  tenantDeliveries: result.tenantDeliveryIds,
  duplicate: result.duplicate,
});

export function makeEventService(ctx: EngineContext): EventService {
  const fallback = ctx.config.defaultTenantId;
  return {
    async trigger(type, data, metadata, options) {
      const input: EventInput = { type, data, metadata: metadata ?? null };
      if (options?.id !== undefined) input.id = options.id;
      if (options?.idempotencyKey !== undefined) input.idempotencyKey = options.idempotencyKey;
      if (options?.channels) input.channels = options.channels;
      return toResult(await ctx.ingest.acceptOne(eventTenant(options, fallback), input, options?.traceHeaders ? { traceHeaders: options.traceHeaders } : undefined));
    },
    async triggerMany(events, scope) {
      const options = scope?.traceHeaders ? { batch: true, traceHeaders: scope.traceHeaders } : { batch: true };
      return (await ctx.ingest.accept(eventTenant(scope, fallback), events, options)).map(toResult);
    },
    emitSystemEvent: ctx.emitSystemEvent,
    async get(id, scope) {
      const event = await ctx.store.getEvent(id);
      if (!event || (scope?.tenantId != null && event.tenantId !== scope.tenantId)) throw notFound.event(id);
      return event;
    },
    async list(filter = {}) {
      const { tenantId: _tenantId, allTenants: _allTenants, cursor, ...rest } = filter;
      return ctx.store.listEvents({ ...rest, ...pageCursor(cursor), ...listTenant(filter, fallback) });
    },
  };
}
