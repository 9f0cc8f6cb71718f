/** Webhooks: their configuration (secrets sealed), status, and failure tracking. */
import { matchesEventType } from "../../domain/event-patterns.js";
import type { Page, Webhook, WebhookStatus } from "../../domain/types.js";
import type { SecretBox } from "../../secrets/secret-box.js";
import { type WebhookRow, pageOf, rowToWebhook, webhookToRow } from "../rows.js";
import type { Subscriber, WebhookFilter } from "../store.js";
import { ListQuery, pageLimit } from "./pages.js";
import type { SqlRunner } from "./runner.js";

export async function insertWebhook(db: SqlRunner, box: SecretBox, webhook: Webhook): Promise<void> {
  const row = webhookToRow(webhook, box);
  const columns = Object.keys(row) as Array<keyof WebhookRow>;
  await db.run(
    `INSERT INTO webhooks (${columns.join(", ")}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(", ")})`,
    columns.map((c) => row[c]),
  );
}

export async function updateWebhook(db: SqlRunner, box: SecretBox, webhook: Webhook): Promise<boolean> {
  const row = webhookToRow(webhook, box);
  const columns = (Object.keys(row) as Array<keyof WebhookRow>).filter((c) => c !== "id" && c !== "created_at");
  const { changes } = await db.run(
    `UPDATE webhooks SET ${columns.map((c, i) => `${c} = $${i + 2}`).join(", ")} WHERE id = $1`,
    [row.id, ...columns.map((c) => row[c])],
  );
  return changes === 1;
}

export async function getWebhook(db: SqlRunner, box: SecretBox, id: string): Promise<Webhook | null> {
  const row = await db.get<WebhookRow>("SELECT * FROM webhooks WHERE id = $1", [id]);
  return row ? rowToWebhook(row, box) : null;
}

export async function listWebhooks(db: SqlRunner, box: SecretBox, filter: WebhookFilter): Promise<Page<Webhook>> {
  const q = new ListQuery();
  if (filter.tenantId === null) q.where("tenant_id IS NULL");
  else if (filter.tenantId !== undefined) {
    const tenant = q.param(filter.tenantId);
    q.where(filter.includeGlobal ? `(tenant_id = ${tenant} OR tenant_id IS NULL)` : `tenant_id = ${tenant}`);
  }
  if (filter.status) q.where(`status = ${q.param(filter.status)}`);
  if (filter.kind) q.where(`kind = ${q.param(filter.kind)}`);
  if (filter.cursor) q.where(`id > ${q.param(filter.cursor)}`);
  const limit = pageLimit(filter.limit);
  // The event filter matches patterns, which SQL cannot index; webhooks are few per tenant.
  const rows = await db.all<WebhookRow>(`SELECT * FROM webhooks ${q.whereClause()} ORDER BY id`, q.params);
  const event = filter.event;
  const matching = event === undefined ? rows : rows.filter((row) => matchesEventType(JSON.parse(row.events) as string[], event));
  const page = pageOf(matching.slice(0, limit + 1), limit);
  return { items: page.items.map((row) => rowToWebhook(row, box)), nextCursor: page.nextCursor };
}

export async function deleteWebhook(db: SqlRunner, id: string): Promise<boolean> {
  return (await db.run("DELETE FROM webhooks WHERE id = $1", [id])).changes === 1;
}

/** Active webhooks that can receive this tenant's events (its own and the global ones). */
export async function listSubscribers(db: SqlRunner, tenantId: string): Promise<Subscriber[]> {
  const rows = await db.all<{ id: string; events: string; tenant_id: string | null; channels: string | null; filter: string | null }>(
    "SELECT id, events, tenant_id, channels, filter FROM webhooks WHERE status = 'active' AND (tenant_id = $1 OR tenant_id IS NULL)",
    [tenantId],
  );
  return rows.map((row) => ({
    id: row.id,
    events: JSON.parse(row.events) as string[],
    tenantId: row.tenant_id,
    channels: row.channels ? (JSON.parse(row.channels) as string[]) : null,
    filter: row.filter,
  }));
}

export async function getWebhookByUid(db: SqlRunner, box: SecretBox, tenantId: string, uid: string): Promise<Webhook | null> {
  const row = await db.get<WebhookRow>("SELECT * FROM webhooks WHERE tenant_id = $1 AND uid = $2", [tenantId, uid]);
  return row ? rowToWebhook(row, box) : null;
}

export async function setWebhookStatus(db: SqlRunner, id: string, status: WebhookStatus, reason: string | null, now: number): Promise<boolean> {
  const { changes } = await db.run("UPDATE webhooks SET status = $1, disabled_reason = $2, updated_at = $3 WHERE id = $4", [
    status, reason, now, id,
  ]);
  return changes === 1;
}

/** Marks the webhook failing (if not already) and returns since when it has been failing. */
export async function markWebhookFailing(db: SqlRunner, id: string, now: number): Promise<number | null> {
  const row = await db.get<{ failing_since: number | string }>(
    "UPDATE webhooks SET failing_since = COALESCE(failing_since, $1) WHERE id = $2 RETURNING failing_since",
    [now, id],
  );
  return row ? Number(row.failing_since) : null;
}

export async function clearWebhookFailing(db: SqlRunner, id: string): Promise<void> {
  await db.run("UPDATE webhooks SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL", [id]);
}
