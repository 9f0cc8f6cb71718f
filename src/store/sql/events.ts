/** Events as the API reads them; writing them is ingest, per backend (sqlite/ingest.ts, postgres/ingest.ts). */
import type { HeraldEvent, Page } from "../../domain/types.js";
import { type EventRow, rowToEvent } from "../rows.js";
import type { EventFilter } from "../store.js";
import { ListQuery, newestFirstPage } from "./pages.js";
import type { SqlRunner } from "./runner.js";

export async function getEvent(db: SqlRunner, id: string): Promise<HeraldEvent | null> {
  const row = await db.get<EventRow>("SELECT * FROM events WHERE id = $1", [id]);
  return row ? rowToEvent(row) : null;
}

export function listEvents(db: SqlRunner, filter: EventFilter): Promise<Page<HeraldEvent>> {
  const q = new ListQuery();
  if (filter.tenantId !== undefined) q.where(`tenant_id = ${q.param(filter.tenantId)}`);
  if (filter.type !== undefined) q.where(`type = ${q.param(filter.type)}`);
  if (filter.types !== undefined && filter.types.length > 0) q.where(`type IN (${filter.types.map((type) => q.param(type)).join(", ")})`);
  if (filter.since !== undefined) q.where(`created_at >= ${q.param(filter.since)}`);
  if (filter.until !== undefined) q.where(`created_at < ${q.param(filter.until)}`);
  return newestFirstPage(db, "events", q, filter, rowToEvent);
}
