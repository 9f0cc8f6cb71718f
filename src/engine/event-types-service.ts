/** Event types: a catalogue per tenant; a type with a JSON Schema has its events validated on every ingest path. */
import { assertEventType, isHeraldEventType } from "../domain/event-patterns.js";
import { ALL_TENANTS, type EventType } from "../domain/types.js";
import { invalidField, notFound } from "../errors.js";
import type { EngineContext } from "./context.js";

export interface EventTypeInput {
  name: string;
  description?: string;
  schema?: unknown;
}

export interface EventTypeService {
  /** Creates or replaces the tenant's event type; `created` is false when it replaced one. */
  upsert(tenantId: string, input: EventTypeInput): Promise<{ eventType: EventType; created: boolean }>;
  get(tenantId: string, name: string): Promise<EventType>;
  list(tenantId: string): Promise<EventType[]>;
  /** Deletes the event type registered under exactly this tenant id (or ALL_TENANTS). */
  delete(tenantId: string, name: string): Promise<void>;
}

export function makeEventTypeService(ctx: EngineContext): EventTypeService {
  const { store } = ctx;
  return {
    async upsert(tenantId, input) {
      assertEventType(input.name, "name");
      if (tenantId !== ALL_TENANTS && !(await store.getTenant(tenantId))) throw notFound.tenant(tenantId, "tenantId");
      const schema = input.schema ?? null;
      // A tenant cannot reshape Herald's own payloads; a schema there would only make Herald drop its own events.
      if (schema !== null && isHeraldEventType(input.name)) {
        throw invalidField("schema", `${input.name} is one of Herald's own event types, whose payload Herald defines; register it without a schema`);
      }
      if (schema !== null) {
        // Compiling now turns a broken schema (too deep, too large, a pattern RE2 cannot run) into a
        // 422 here rather than a failure on every later event.
        ctx.schemas.compile(schema);
      }
      const found = await store.getEventType(tenantId, input.name);
      const existing = found?.tenantId === tenantId ? found : null; // not the one kept for every tenant
      const eventType: EventType = {
        tenantId,
        name: input.name,
        description: input.description ?? "",
        schema: input.schema ?? null,
        createdAt: existing?.createdAt ?? Date.now(),
      };
      await store.upsertEventType(eventType);
      return { eventType, created: existing === null };
    },
    async get(tenantId, name) {
      const eventType = await store.getEventType(tenantId, name);
      if (!eventType) throw notFound.eventType(name);
      // The store may keep what ingest reads, frozen (src/store/sql/ingest-reads.ts): the caller gets its own copy.
      return structuredClone(eventType);
    },
    list: (tenantId) => store.listEventTypes(tenantId),
    async delete(tenantId, name) {
      if (!(await store.deleteEventType(tenantId, name))) throw notFound.eventType(name);
    },
  };
}
