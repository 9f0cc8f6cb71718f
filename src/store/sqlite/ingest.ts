/**
 * Ingest on SQLite: the event and its deliveries, inside the caller's IMMEDIATE transaction.
 * The "seen before?" read and the insert cannot race: better-sqlite3 runs the transaction to
 * its end without yielding, and the write lock keeps other processes on the file out.
 */
import { assertSameEvent, keyHasExpired } from "../idempotency.js";
import { type EventRow, rowToEvent } from "../rows.js";
import type { IngestRequest, IngestResult } from "../store.js";
import type { SqliteConnection } from "./connection.js";

const INSERT_EVENT_SQL = "INSERT INTO events (id, tenant_id, type, data, metadata, idempotency_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";

const INSERT_DELIVERY_SQL = `
  INSERT INTO deliveries (id, event_id, webhook_id, tenant_id, event_type, state, attempt_count, next_attempt_at, created_at, updated_at)
  VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6, $6)`;

export function ingestOne(connection: SqliteConnection, request: IngestRequest): IngestResult {
  const { event } = request;
  const earlier =
    connection.get<EventRow>("SELECT * FROM events WHERE id = $1", [event.id]) ??
    (request.idempotencyKey
      ? connection.get<EventRow>("SELECT * FROM events WHERE tenant_id = $1 AND idempotency_key = $2", [event.tenantId, request.idempotencyKey])
      : undefined);
  if (earlier && keyHasExpired(earlier, request)) {
    connection.run("UPDATE events SET idempotency_key = NULL WHERE id = $1", [earlier.id]);
  } else if (earlier) {
    assertSameEvent(earlier, request);
    const deliveryIds = connection.all<{ id: string }>("SELECT id FROM deliveries WHERE event_id = $1 ORDER BY id", [earlier.id]).map((r) => r.id);
    return { event: rowToEvent(earlier), deliveryIds, duplicate: true };
  }
  connection.run(INSERT_EVENT_SQL, [
    event.id, event.tenantId, event.type, request.serialized?.data ?? JSON.stringify(event.data ?? null),
    request.serialized ? request.serialized.metadata : event.metadata === null ? null : JSON.stringify(event.metadata), request.idempotencyKey, event.createdAt,
  ]);
  for (const delivery of request.deliveries) {
    connection.run(INSERT_DELIVERY_SQL, [delivery.id, event.id, delivery.webhookId, event.tenantId, event.type, event.createdAt]);
  }
  return { event, deliveryIds: request.deliveries.map((d) => d.id), duplicate: false };
}
