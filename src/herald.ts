/**
 * The engine in-process (SPEC section 8), and the only door into Herald: the HTTP APIs, the
 * CLI, the dashboard and library users all call this object, so behaviour never depends on
 * which way an event came in. `createHerald()` resolves one frozen configuration, builds the
 * shared context (src/engine/context.ts), then one service per concept over it, and the
 * background worker; this file only composes them.
 */
import type { StoreCapabilities } from "./store/store.js";
import { makeApiKeyService, type ApiKeyService } from "./engine/api-keys-service.js";
import { makeEngineContext } from "./engine/context.js";
import { makeDeliveryService, type DeliveryService } from "./engine/deliveries-service.js";
import { makeEventTypeService, type EventTypeService } from "./engine/event-types-service.js";
import { makeEventService, type EventService } from "./engine/events-service.js";
import type { EngineConfig, HeraldOptions } from "./engine/options.js";
import { makePortalLinkService, type PortalLinkService } from "./engine/portal-links-service.js";
import { makeTenantService, type TenantService } from "./engine/tenants-service.js";
import { makeWebhookService, type WebhookService } from "./engine/webhooks-service.js";
import { makeDeliveryWorker } from "./engine/worker.js";

export { SYSTEM_EVENT_TYPES, type SystemEventType } from "./domain/event-patterns.js";
export type { HeraldOptions, EngineConfig } from "./engine/options.js";
export type { Scope } from "./engine/scope.js";
export type { TriggerOptions, TriggerManyOptions, TriggerResult } from "./engine/events-service.js";
export type { TraceHeaders } from "./tracing/tracing.js";
export type { WebhookCreateOptions, WebhookListOptions, WebhookTestResult } from "./engine/webhooks-service.js";
export type { IssuedApiKey } from "./engine/api-keys-service.js";
export type { PortalAccess, PortalLink, PortalLinkOptions } from "./engine/portal-links-service.js";

export interface Herald {
  /** The resolved configuration the engine runs on (frozen). */
  readonly config: EngineConfig;
  readonly defaultTenantId: string;
  readonly backend: "sqlite" | "postgres";
  readonly capabilities: StoreCapabilities;
  trigger: EventService["trigger"];
  triggerMany: EventService["triggerMany"];
  emitSystemEvent: EventService["emitSystemEvent"];
  events: Pick<EventService, "get" | "list">;
  webhooks: WebhookService;
  deliveries: DeliveryService;
  tenants: TenantService;
  apiKeys: ApiKeyService;
  eventTypes: EventTypeService;
  /** Signed, expiring links that open the dashboard as one tenant. */
  portalLinks: PortalLinkService;
  /**
   * Resolves when the store answers a query and can write (readiness checks); rejects with
   * HERALD_ERR_STORE_UNAVAILABLE naming the cause when it cannot write (see Store.checkWritable).
   */
  ping(): Promise<void>;
  /** Starts the delivery worker, recovery jobs, health checks and retention. */
  start(): Promise<void>;
  /** Stops claiming, drains in-flight deliveries and records them; the rest stay due for the next start. */
  stop(): Promise<void>;
  /** Commits every attempt made so far. */
  flushAttempts(): Promise<void>;
  /** stop(), then closes the store and HTTP connections. */
  close(): Promise<void>;
  readonly running: boolean;
  /** Requests this process has in flight now (metrics). */
  readonly inFlight: number;
}

export async function createHerald(options: HeraldOptions = {}): Promise<Herald> {
  const ctx = await makeEngineContext(options);
  const { config, store } = ctx;
  const tenants = makeTenantService(ctx);
  if (config.createDefaultTenant) await tenants.ensure({ id: config.defaultTenantId, name: "default" });
  const events = makeEventService(ctx);
  const worker = makeDeliveryWorker(ctx);
  ctx.storeWatch.start();
  let closing: Promise<void> | null = null;
  return {
    config,
    defaultTenantId: config.defaultTenantId,
    backend: store.backend,
    capabilities: store.capabilities,
    trigger: events.trigger,
    triggerMany: events.triggerMany,
    emitSystemEvent: events.emitSystemEvent,
    events: { get: events.get, list: events.list },
    webhooks: makeWebhookService(ctx),
    deliveries: makeDeliveryService(ctx),
    tenants,
    apiKeys: makeApiKeyService(ctx),
    eventTypes: makeEventTypeService(ctx),
    portalLinks: makePortalLinkService(ctx),
    async ping() {
      const fault = await ctx.storeWatch.check();
      if (fault) throw fault;
      await store.getTenant(config.defaultTenantId);
    },
    start: () => worker.start(),
    stop: () => worker.stop(),
    flushAttempts: () => worker.flushAttempts(),
    close() {
      closing ??= ctx.storeWatch
        .stop()
        .then(() => worker.close())
        .then(() => ctx.settleSystemEvents())
        .then(() => store.close());
      return closing;
    },
    get running() {
      return ctx.state.running;
    },
    get inFlight() {
      return worker.inFlight;
    },
  };
}
