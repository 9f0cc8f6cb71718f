/**
 * The list endpoints' queries: optional filters become numbered placeholders, and pages are
 * cursor-based on the UUIDv7 id (ascending for webhooks, newest first for events and
 * deliveries), the same as the SQLite store, so a cursor never skips or repeats a row.
 */
import type pg from "pg";
import { matchesEventType } from "../../domain/event-patterns.js";
import type { Delivery, HeraldEvent, Page, Webhook } from "../../domain/types.js";
import type { SecretBox } from "../../secrets/secret-box.js";
import { type DeliveryRow, type EventRow, type WebhookRow, pageOf, rowToDelivery, rowToEvent, rowToWebhook } from "../rows.js";
import type { DeliveryFilter, EventFilter, WebhookFilter } from "../store.js";

const DEFAULT_PAGE = 50;
const MAX_PAGE = 1000;
const pageLimit = (limit: number | undefined) => Math.min(Math.max(limit ?? DEFAULT_PAGE, 1), MAX_PAGE);

/** Placeholders numbered as values are added, for the list queries' optional filters. */
class SqlParams {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

const whereClause = (conditions: string[]) => (conditions.length ? "WHERE " + conditions.join(" AND ") : "");

export async function listWebhooks(pool: pg.Pool, box: SecretBox, filter: WebhookFilter): Promise<Page<Webhook>> {
  const where: string[] = [];
  const p = new SqlParams();
  if (filter.tenantId === null) where.push("tenant_id IS NULL");
  else if (filter.tenantId !== undefined) {
    const tenant = p.add(filter.tenantId);
    where.push(filter.includeGlobal ? `(tenant_id = ${tenant} OR tenant_id IS NULL)` : `tenant_id = ${tenant}`);
  }
  if (filter.status) where.push(`status = ${p.add(filter.status)}`);
  if (filter.kind) where.push(`kind = ${p.add(filter.kind)}`);
  if (filter.cursor) where.push(`id > ${p.add(filter.cursor)}`);
  const limit = pageLimit(filter.limit);
  // The event filter matches patterns, which SQL cannot index; webhooks are few per tenant.
  const { rows } = await pool.query<WebhookRow>(`SELECT * FROM webhooks ${whereClause(where)} ORDER BY id`, p.values);
  const event = filter.event;
  const matching = event === undefined ? rows : rows.filter((row) => matchesEventType(JSON.parse(row.events) as string[], event));
  const page = pageOf(matching.slice(0, limit + 1), limit);
  return { items: page.items.map((row) => rowToWebhook(row, box)), nextCursor: page.nextCursor };
}

export async function listEvents(pool: pg.Pool, filter: EventFilter): Promise<Page<HeraldEvent>> {
  const where: string[] = [];
  const p = new SqlParams();
  if (filter.tenantId !== undefined) where.push(`tenant_id = ${p.add(filter.tenantId)}`);
  if (filter.type !== undefined) where.push(`type = ${p.add(filter.type)}`);
  if (filter.since !== undefined) where.push(`created_at >= ${p.add(filter.since)}`);
  if (filter.cursor !== undefined) where.push(`id < ${p.add(filter.cursor)}`);
  const limit = pageLimit(filter.limit);
  const { rows } = await pool.query<EventRow>(
    `SELECT * FROM events ${whereClause(where)} ORDER BY id DESC LIMIT ${p.add(limit + 1)}`,
    p.values,
  );
  const page = pageOf(rows, limit);
  return { items: page.items.map(rowToEvent), nextCursor: page.nextCursor };
}

export async function listDeliveries(pool: pg.Pool, filter: DeliveryFilter): Promise<Page<Delivery>> {
  const where: string[] = [];
  const p = new SqlParams();
  if (filter.tenantId !== undefined) where.push(`tenant_id = ${p.add(filter.tenantId)}`);
  if (filter.webhookId !== undefined) where.push(`webhook_id = ${p.add(filter.webhookId)}`);
  if (filter.webhookTenantId !== undefined) where.push(`webhook_id IN (SELECT id FROM webhooks WHERE tenant_id = ${p.add(filter.webhookTenantId)})`);
  if (filter.eventId !== undefined) where.push(`event_id = ${p.add(filter.eventId)}`);
  if (filter.eventType !== undefined) where.push(`event_type = ${p.add(filter.eventType)}`);
  if (filter.state !== undefined) where.push(`state = ${p.add(filter.state)}`);
  if (filter.since !== undefined) where.push(`created_at >= ${p.add(filter.since)}`);
  if (filter.until !== undefined) where.push(`created_at < ${p.add(filter.until)}`);
  if (filter.cursor !== undefined) where.push(`id < ${p.add(filter.cursor)}`);
  const limit = pageLimit(filter.limit);
  const { rows } = await pool.query<DeliveryRow>(
    `SELECT * FROM deliveries ${whereClause(where)} ORDER BY id DESC LIMIT ${p.add(limit + 1)}`,
    p.values,
  );
  const page = pageOf(rows, limit);
  return { items: page.items.map(rowToDelivery), nextCursor: page.nextCursor };
}
