/** A tenant's event type catalogue, with optional JSON Schemas. */
import { ALL_TENANTS, type EventType } from "../../domain/types.js";
import { type EventTypeRow, rowToEventType } from "../rows.js";
import type { SqlRunner } from "./runner.js";

export async function upsertEventType(db: SqlRunner, eventType: EventType): Promise<void> {
  await db.run(
    `INSERT INTO event_types (tenant_id, name, description, schema, created_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (tenant_id, name) DO UPDATE SET description = excluded.description, schema = excluded.schema`,
    [eventType.tenantId, eventType.name, eventType.description, eventType.schema === null ? null : JSON.stringify(eventType.schema), eventType.createdAt],
  );
}

/** The tenant's own type first: a tenant's registration stands over the one kept for every tenant. */
export async function getEventType(db: SqlRunner, tenantId: string, name: string): Promise<EventType | null> {
  const row = await db.get<EventTypeRow>(
    `SELECT * FROM event_types WHERE tenant_id IN ($1, '${ALL_TENANTS}') AND name = $2 ORDER BY CASE WHEN tenant_id = $1 THEN 0 ELSE 1 END LIMIT 1`,
    [tenantId, name],
  );
  return row ? rowToEventType(row) : null;
}

/** By name; where the tenant and ALL_TENANTS both have a name, the tenant's. */
export async function listEventTypes(db: SqlRunner, tenantId: string): Promise<EventType[]> {
  const rows = await db.all<EventTypeRow>(
    `SELECT * FROM event_types WHERE tenant_id IN ($1, '${ALL_TENANTS}') ORDER BY name, CASE WHEN tenant_id = $1 THEN 0 ELSE 1 END`,
    [tenantId],
  );
  return rows.map(rowToEventType).filter((type, i, all) => i === 0 || all[i - 1]!.name !== type.name);
}

export async function deleteEventType(db: SqlRunner, tenantId: string, name: string): Promise<boolean> {
  return (await db.run("DELETE FROM event_types WHERE tenant_id = $1 AND name = $2", [tenantId, name])).changes === 1;
}
