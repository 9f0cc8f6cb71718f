/**
 * Settling attempts: every attempt is recorded, but a delivery moves on only while the
 * recording worker still holds its lease. A worker whose lease expired (and whose delivery
 * another worker may have claimed since) leaves the delivery alone, as in the SQLite store.
 *
 * One INSERT and one UPDATE for the whole batch, whatever its size, with the rows passed as
 * arrays through unnest(): the dispatcher flushes outcomes in batches, and a statement per
 * outcome would cost a round trip each.
 */
import type pg from "pg";
import { attemptToRow } from "../rows.js";
import type { AttemptOutcome } from "../store.js";
import { withTransaction } from "./transaction.js";

// Attempts of a delivery deleted meanwhile (its webhook was deleted mid-request) are dropped
// rather than failing the foreign key and with it every other outcome in the batch.
const INSERT_ATTEMPTS_SQL = `
  INSERT INTO attempts (id, delivery_id, webhook_id, attempt_number, started_at, duration_ms, request_method, request_url,
                        request_headers, response_status, response_headers, response_body, error_class, error_message)
  SELECT a.*
    FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[], $6::float8[], $7::text[], $8::text[],
                $9::text[], $10::int[], $11::text[], $12::text[], $13::text[], $14::text[])
         AS a(id, delivery_id, webhook_id, attempt_number, started_at, duration_ms, request_method, request_url,
              request_headers, response_status, response_headers, response_body, error_class, error_message)
   WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.id = a.delivery_id)`;

const SETTLE_SQL = `
  UPDATE deliveries d
     SET state = o.state, attempt_count = o.attempt_number, next_attempt_at = o.next_attempt_at,
         last_status = o.last_status, last_error = o.last_error, lease_owner = NULL, lease_expires_at = NULL,
         updated_at = o.settled_at, completed_at = o.completed_at
    FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::int[], $6::text[], $7::bigint[], $8::bigint[])
         AS o(id, state, attempt_number, next_attempt_at, last_status, last_error, settled_at, completed_at)
   WHERE d.id = o.id AND d.state = 'in_flight' AND d.lease_owner = $9`;

export async function recordAttempts(pool: pg.Pool, outcomes: AttemptOutcome[], owner: string): Promise<void> {
  if (outcomes.length === 0) return;
  const rows = outcomes.map((outcome) => attemptToRow(outcome.attempt));
  const column = <K extends keyof (typeof rows)[number]>(key: K) => rows.map((row) => row[key]);
  await withTransaction(pool, async (client) => {
    await client.query(INSERT_ATTEMPTS_SQL, [
      column("id"), column("delivery_id"), column("webhook_id"), column("attempt_number"), column("started_at"),
      column("duration_ms"), column("request_method"), column("request_url"), column("request_headers"),
      column("response_status"), column("response_headers"), column("response_body"), column("error_class"), column("error_message"),
    ]);
    const settledAt = outcomes.map(({ attempt }) => attempt.startedAt + Math.round(attempt.durationMs));
    await client.query(SETTLE_SQL, [
      outcomes.map((o) => o.attempt.deliveryId),
      outcomes.map((o) => o.state),
      outcomes.map((o) => o.attempt.attemptNumber),
      outcomes.map((o) => o.nextAttemptAt),
      outcomes.map((o) => o.attempt.response?.status ?? null),
      outcomes.map((o) => o.attempt.errorMessage),
      settledAt,
      outcomes.map((o, i) => (o.state === "pending" ? null : settledAt[i])),
      owner,
    ]);
  });
}
