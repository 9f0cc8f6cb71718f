/**
 * Deliveries and their attempts as the API and the dispatcher read them, and requeueing one.
 * Claiming, settling and lease release change deliveries under concurrency and stay per backend.
 */
import type { Attempt, Delivery, DeliveryState, Page } from "../../domain/types.js";
import { type AttemptRow, type DeliveryRow, pageOf, rowToAttempt, rowToDelivery } from "../rows.js";
import type { DeliveryFilter, EventAttempt, EventAttemptFilter } from "../store.js";
import { ListQuery, newestFirstPage, pageLimit } from "./pages.js";
import type { SqlRunner } from "./runner.js";

export async function getDelivery(db: SqlRunner, id: string): Promise<Delivery | null> {
  const row = await db.get<DeliveryRow>("SELECT * FROM deliveries WHERE id = $1", [id]);
  return row ? rowToDelivery(row) : null;
}

export function listDeliveries(db: SqlRunner, filter: DeliveryFilter): Promise<Page<Delivery>> {
  const q = new ListQuery();
  if (filter.tenantId !== undefined) q.where(`tenant_id = ${q.param(filter.tenantId)}`);
  if (filter.webhookId !== undefined) q.where(`webhook_id = ${q.param(filter.webhookId)}`);
  if (filter.webhookTenantId !== undefined) q.where(`webhook_id IN (SELECT id FROM webhooks WHERE tenant_id = ${q.param(filter.webhookTenantId)})`);
  if (filter.eventId !== undefined) q.where(`event_id = ${q.param(filter.eventId)}`);
  if (filter.eventType !== undefined) q.where(`event_type = ${q.param(filter.eventType)}`);
  if (filter.state !== undefined) q.where(`state = ${q.param(filter.state)}`);
  if (filter.since !== undefined) q.where(`created_at >= ${q.param(filter.since)}`);
  if (filter.until !== undefined) q.where(`created_at < ${q.param(filter.until)}`);
  return newestFirstPage(db, "deliveries", q, filter, rowToDelivery);
}

export async function listAttempts(db: SqlRunner, deliveryId: string): Promise<Attempt[]> {
  return (await db.all<AttemptRow>("SELECT * FROM attempts WHERE delivery_id = $1 ORDER BY attempt_number, id", [deliveryId])).map(rowToAttempt);
}

/** Attempts newest first, with the event each delivered (the Svix API lists attempts by endpoint and by message). */
export async function listEventAttempts(db: SqlRunner, filter: EventAttemptFilter): Promise<Page<EventAttempt>> {
  const q = new ListQuery();
  if (filter.webhookId !== undefined) q.where(`a.webhook_id = ${q.param(filter.webhookId)}`);
  if (filter.eventId !== undefined) q.where(`d.event_id = ${q.param(filter.eventId)}`);
  if (filter.tenantId !== undefined) q.where(`d.tenant_id = ${q.param(filter.tenantId)}`);
  if (filter.eventTypes !== undefined && filter.eventTypes.length > 0) q.where(`d.event_type IN (${filter.eventTypes.map((t) => q.param(t)).join(", ")})`);
  if (filter.success !== undefined) q.where(filter.success ? "a.response_status BETWEEN 200 AND 299" : "(a.response_status IS NULL OR a.response_status NOT BETWEEN 200 AND 299)");
  if (filter.since !== undefined) q.where(`a.started_at >= ${q.param(filter.since)}`);
  if (filter.until !== undefined) q.where(`a.started_at < ${q.param(filter.until)}`);
  if (filter.cursor !== undefined) q.where(`a.id < ${q.param(filter.cursor)}`);
  const limit = pageLimit(filter.limit);
  const rows = await db.all<AttemptRow & { event_id: string; event_type: string }>(
    `SELECT a.*, d.event_id, d.event_type FROM attempts a JOIN deliveries d ON d.id = a.delivery_id ${q.whereClause()} ORDER BY a.id DESC LIMIT ${q.param(limit + 1)}`,
    q.params,
  );
  const page = pageOf(rows, limit);
  return { items: page.items.map((row) => ({ ...rowToAttempt(row), eventId: row.event_id, eventType: row.event_type })), nextCursor: page.nextCursor };
}

/** Makes a delivery due now, whatever its state but in_flight; resets nothing of its history. */
export async function requeueDelivery(db: SqlRunner, id: string, now: number): Promise<boolean> {
  const { changes } = await db.run(
    `UPDATE deliveries SET state = 'pending', next_attempt_at = $1, completed_at = NULL, updated_at = $1
      WHERE id = $2 AND state <> 'in_flight'`,
    [now, id],
  );
  return changes === 1;
}

export async function countDeliveriesByState(db: SqlRunner, webhookId?: string): Promise<Record<DeliveryState, number>> {
  const counts: Record<DeliveryState, number> = { pending: 0, in_flight: 0, succeeded: 0, failed: 0, cancelled: 0 };
  const rows = await db.all<{ state: DeliveryState; n: number | string }>(
    `SELECT state, COUNT(*) AS n FROM deliveries ${webhookId === undefined ? "" : "WHERE webhook_id = $1"} GROUP BY state`,
    webhookId === undefined ? [] : [webhookId],
  );
  for (const row of rows) counts[row.state] = Number(row.n);
  return counts;
}

// ---- what the dispatcher reads between claims

export async function listLeaseOwners(db: SqlRunner): Promise<string[]> {
  const rows = await db.all<{ lease_owner: string }>(
    "SELECT DISTINCT lease_owner FROM deliveries WHERE state = 'in_flight' AND lease_owner IS NOT NULL",
  );
  return rows.map((r) => r.lease_owner);
}

/** The earliest next_attempt_at after `after` among pending deliveries, or null when none is due later. */
export async function nextDueAt(db: SqlRunner, after: number): Promise<number | null> {
  const row = await db.get<{ at: number | string | null }>(
    "SELECT MIN(next_attempt_at) AS at FROM deliveries WHERE state = 'pending' AND next_attempt_at > $1",
    [after],
  );
  return row?.at == null ? null : Number(row.at);
}

/** The earliest due time among pending deliveries of active webhooks: how far behind delivery runs. */
export async function oldestDueAt(db: SqlRunner): Promise<number | null> {
  const row = await db.get<{ at: number | string | null }>(
    `SELECT d.next_attempt_at AS at FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id AND w.status = 'active'
      WHERE d.state = 'pending' ORDER BY d.next_attempt_at LIMIT 1`,
  );
  return row?.at == null ? null : Number(row.at);
}
