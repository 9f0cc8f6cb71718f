/** A tenant's event type catalogue, with optional JSON Schemas. */
import type { EventType } from "../../domain/types.js";
import { type EventTypeRow, rowToEventType } from "../rows.js";
import type { SqlRunner } from "./runner.js";

export async function upsertEventType(db: SqlRunner, eventType: EventType): Promise<void> {
  await db.run(
    `INSERT INTO event_types (tenant_id, name, description, schema, created_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (tenant_id, name) DO UPDATE SET description = excluded.description, schema = excluded.schema`,
    [eventType.tenantId, eventType.name, eventType.description, eventType.schema === null ? null : JSON.stringify(eventType.schema), eventType.createdAt],
  );
}

export async function getEventType(db: SqlRunner, tenantId: string, name: string): Promise<EventType | null> {
  const row = await db.get<EventTypeRow>("SELECT * FROM event_types WHERE tenant_id = $1 AND name = $2", [tenantId, name]);
  return row ? rowToEventType(row) : null;
}

export async function listEventTypes(db: SqlRunner, tenantId: string): Promise<EventType[]> {
  return (await db.all<EventTypeRow>("SELECT * FROM event_types WHERE tenant_id = $1 ORDER BY name", [tenantId])).map(rowToEventType);
}
