/** Deliveries: one event to one webhook, with its attempts; reading them and retrying by hand. */
import type { Attempt, Delivery, DeliveryState, Page } from "../domain/types.js";
import { conflict, notFound } from "../errors.js";
import type { DeliveryFilter, EventAttempt, EventAttemptFilter } from "../store/store.js";
import type { EngineContext } from "./context.js";
import { listTenant, pageCursor, type Scope } from "./scope.js";

export interface DeliveryService {
  get(id: string, scope?: Scope): Promise<Delivery & { attempts: Attempt[] }>;
  list(filter?: Omit<DeliveryFilter, "tenantId"> & Scope & { allTenants?: boolean }): Promise<Page<Delivery>>;
  attempts(id: string, scope?: Scope): Promise<Attempt[]>;
  /** Attempts newest first with the event each carried, across deliveries (by webhook or by event); a tenant scope sees its own webhooks' only. */
  eventAttempts(filter: EventAttemptFilter & Scope): Promise<Page<EventAttempt>>;
  /** Makes a finished delivery due again now (manual retry). */
  retry(id: string, scope?: Scope): Promise<Delivery>;
  countByState(): Promise<Record<DeliveryState, number>>;
}

export function makeDeliveryService(ctx: EngineContext): DeliveryService {
  const { store } = ctx;

  async function find(id: string, scope?: Scope): Promise<Delivery> {
    const delivery = await store.getDelivery(id);
    const tenant = scope?.tenantId;
    // A tenant sees deliveries of its events to its own webhooks; those to a global (operator)
    // webhook carry the operator's URL, headers and responses, and answer as unknown.
    if (delivery === null) throw notFound.delivery(id);
    if (tenant != null && (delivery.tenantId !== tenant || (await store.getWebhook(delivery.webhookId))?.tenantId !== tenant)) {
      throw notFound.delivery(id);
    }
    return delivery;
  }

  return {
    async get(id, scope) {
      const delivery = await find(id, scope);
      return { ...delivery, attempts: await store.listAttempts(id) };
    },
    async list(filter = {}) {
      const { tenantId, allTenants: _allTenants, cursor, ...rest } = filter;
      // A named tenant (an API caller's scope) sees only deliveries to its own webhooks.
      const ownWebhooksOnly = typeof tenantId === "string" ? { webhookTenantId: tenantId } : {};
      return store.listDeliveries({ ...rest, ...pageCursor(cursor), ...listTenant(filter, ctx.config.defaultTenantId), ...ownWebhooksOnly });
    },
    async eventAttempts(filter) {
      const { tenantId, cursor, ...given } = filter;
      const rest = { ...given, ...pageCursor(cursor) };
      if (typeof tenantId !== "string") return store.listEventAttempts(rest);
      // A tenant's own webhooks only: a global webhook's attempts carry the operator's URL and responses.
      if (rest.webhookId !== undefined && (await store.getWebhook(rest.webhookId))?.tenantId !== tenantId) return { items: [], nextCursor: null };
      const page = await store.listEventAttempts({ ...rest, tenantId });
      if (rest.webhookId !== undefined) return page;
      const own = new Map<string, boolean>();
      for (const attempt of page.items) {
        if (!own.has(attempt.webhookId)) own.set(attempt.webhookId, (await store.getWebhook(attempt.webhookId))?.tenantId === tenantId);
      }
      return { items: page.items.filter((attempt) => own.get(attempt.webhookId)), nextCursor: page.nextCursor };
    },
    async attempts(id, scope) {
      await find(id, scope);
      return store.listAttempts(id);
    },
    async retry(id, scope) {
      const delivery = await find(id, scope);
      if (delivery.state === "in_flight") throw conflict("id", `delivery ${id} is in flight now; retry it once this attempt is recorded`);
      await store.requeueDelivery(id, Date.now());
      ctx.work.notify();
      return find(id, scope);
    },
    countByState: () => store.countDeliveriesByState(),
  };
}
