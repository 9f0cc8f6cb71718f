/**
 * Settling attempts: every attempt is recorded, but a delivery moves on only while the
 * recording worker still holds its lease. A worker whose lease expired (and whose delivery
 * another worker may have claimed since) leaves the delivery alone, as in the SQLite store.
 *
 * One statement for the whole batch, whatever its size: the rows travel as arrays through
 * unnest(), the INSERT of the attempts is a data-modifying CTE of the UPDATE that settles their
 * deliveries, and a single statement is its own transaction, so both commit or neither does.
 * It replaced BEGIN, INSERT, UPDATE, COMMIT: one round trip and one pooled connection checkout
 * instead of four round trips (issue 16, fourth round: a flush holds 10 outcomes at 1 webhook,
 * so the round trips, not the rows, were its cost).
 */
import type pg from "pg";
import { attemptToRow } from "../rows.js";
import type { AttemptOutcome } from "../store.js";

// Attempts of a delivery deleted meanwhile (its webhook was deleted mid-request) are dropped
// rather than failing the foreign key and with it every other outcome in the batch.
const RECORD_ATTEMPTS_SQL = `
  WITH o AS (
    SELECT *
      FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[], $6::float8[], $7::text[], $8::text[],
                  $9::text[], $10::int[], $11::text[], $12::text[], $13::text[], $14::text[],
                  $15::text[], $16::bigint[], $17::bigint[], $18::bigint[])
           AS o(id, delivery_id, webhook_id, attempt_number, started_at, duration_ms, request_method, request_url,
                request_headers, response_status, response_headers, response_body, error_class, error_message,
                state, next_attempt_at, settled_at, completed_at)
  ), inserted AS (
    INSERT INTO attempts (id, delivery_id, webhook_id, attempt_number, started_at, duration_ms, request_method, request_url,
                          request_headers, response_status, response_headers, response_body, error_class, error_message)
    SELECT id, delivery_id, webhook_id, attempt_number, started_at, duration_ms, request_method, request_url,
           request_headers, response_status, response_headers, response_body, error_class, error_message
      FROM o
     WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.id = o.delivery_id)
  )
  UPDATE deliveries d
     SET state = o.state, attempt_count = o.attempt_number, next_attempt_at = o.next_attempt_at,
         last_status = o.response_status, last_error = o.error_message, lease_owner = NULL, lease_expires_at = NULL,
         updated_at = o.settled_at, completed_at = o.completed_at
    FROM o
   WHERE d.id = o.delivery_id AND d.state = 'in_flight' AND d.lease_owner = $19`;

export async function recordAttempts(pool: pg.Pool, outcomes: AttemptOutcome[], owner: string): Promise<void> {
  if (outcomes.length === 0) return;
  const rows = outcomes.map((outcome) => attemptToRow(outcome.attempt));
  const column = <K extends keyof (typeof rows)[number]>(key: K) => rows.map((row) => row[key]);
  const settledAt = outcomes.map(({ attempt }) => attempt.startedAt + Math.round(attempt.durationMs));
  await pool.query(RECORD_ATTEMPTS_SQL, [
    column("id"), column("delivery_id"), column("webhook_id"), column("attempt_number"), column("started_at"),
    column("duration_ms"), column("request_method"), column("request_url"), column("request_headers"),
    column("response_status"), column("response_headers"), column("response_body"), column("error_class"), column("error_message"),
    outcomes.map((o) => o.state),
    outcomes.map((o) => o.nextAttemptAt),
    settledAt,
    outcomes.map((o, i) => (o.state === "pending" ? null : settledAt[i])),
    owner,
  ]);
}
