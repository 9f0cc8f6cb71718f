/**
 * Ingest on PostgreSQL: the event and its deliveries in the caller's transaction.
 *
 * Idempotency with several API processes: two requests with the same event id (or the same
 * Idempotency-Key) can race past the "seen before?" read at once. The event is therefore
 * inserted with ON CONFLICT DO NOTHING, which waits for the other transaction to commit and
 * then inserts nothing; the loser reads the winner's event (a fresh statement in READ COMMITTED
 * sees it) and answers with it as a duplicate, as if it had come second.
 */
import type pg from "pg";
import { assertSameEvent, keyHasExpired } from "../idempotency.js";
import { conflict } from "../../errors.js";
import { type EventRow, rowToEvent } from "../rows.js";
import type { IngestRequest, IngestResult } from "../store.js";

const EARLIER_SQL = `
  SELECT * FROM events
   WHERE id = $1 OR (tenant_id = $2 AND idempotency_key = $3)
   ORDER BY (id = $1) DESC
   LIMIT 1`;

const INSERT_EVENT_SQL = `
  INSERT INTO events (id, tenant_id, type, data, metadata, idempotency_key, created_at, trace_context)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
  ON CONFLICT DO NOTHING`;

const INSERT_DELIVERIES_SQL = `
  INSERT INTO deliveries (id, event_id, webhook_id, tenant_id, event_type, state, attempt_count, next_attempt_at, created_at, updated_at)
  SELECT d.id, $3::text, d.webhook_id, $4::text, $5::text, 'pending', 0, $6::bigint, $6::bigint, $6::bigint
    FROM unnest($1::text[], $2::text[]) AS d(id, webhook_id)`;

export async function ingestOne(client: pg.ClientBase, request: IngestRequest): Promise<IngestResult> {
  const { event } = request;
  const earlier = await findEarlier(client, request);
  if (earlier && keyHasExpired(earlier, request)) {
    await client.query("UPDATE events SET idempotency_key = NULL WHERE id = $1", [earlier.id]);
  } else if (earlier) {
    return duplicateOf(client, earlier, request);
  }
  const inserted = await client.query(INSERT_EVENT_SQL, [
    event.id, event.tenantId, event.type, request.serialized?.data ?? JSON.stringify(event.data ?? null),
    request.serialized ? request.serialized.metadata : event.metadata === null ? null : JSON.stringify(event.metadata), request.idempotencyKey, event.createdAt,
    request.traceContext ?? null,
  ]);
  if (inserted.rowCount === 0) {
    // Lost a race with a concurrent ingest of the same id or key, which has committed by now.
    const winner = await findEarlier(client, request);
    if (!winner) throw conflict("id", `event ${event.id} conflicts with an event being written; retry`);
    return duplicateOf(client, winner, request);
  }
  if (request.deliveries.length > 0) {
    await client.query(INSERT_DELIVERIES_SQL, [
      request.deliveries.map((d) => d.id), request.deliveries.map((d) => d.webhookId),
      event.id, event.tenantId, event.type, event.createdAt,
    ]);
  }
  return { event, deliveryIds: request.deliveries.map((d) => d.id), duplicate: false };
}

async function findEarlier(client: pg.ClientBase, request: IngestRequest): Promise<EventRow | undefined> {
  const { rows } = await client.query<EventRow>(EARLIER_SQL, [request.event.id, request.event.tenantId, request.idempotencyKey]);
  return rows[0];
}

async function duplicateOf(client: pg.ClientBase, earlier: EventRow, request: IngestRequest): Promise<IngestResult> {
  assertSameEvent(earlier, request);
  const { rows } = await client.query<{ id: string }>("SELECT id FROM deliveries WHERE event_id = $1 ORDER BY id", [earlier.id]);
  return { event: rowToEvent(earlier), deliveryIds: rows.map((r) => r.id), duplicate: true };
}
