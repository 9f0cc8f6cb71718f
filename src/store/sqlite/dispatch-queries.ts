/**
 * The delivery queue on SQLite: claiming due deliveries under a lease, settling attempts,
 * releasing leases. Every write is one IMMEDIATE transaction; better-sqlite3 runs it to the end
 * without yielding, so no other claim can interleave and no row locks are needed.
 */
import type Database from "better-sqlite3";
import { attemptToRow } from "../rows.js";
import type { AttemptOutcome, ClaimRequest, DueDelivery } from "../store.js";

interface ClaimRow {
  id: string;
  webhook_id: string;
  tenant_id: string;
  attempt_count: number;
  created_at: number;
  max_concurrency: number;
  timeout_ms: number;
  event_id: string;
  type: string;
  data: string;
  metadata: string | null;
  event_created_at: number;
}

export class SqliteDispatchQueries {
  private readonly statements;

  constructor(private readonly db: Database.Database) {
    this.statements = {
      claimCandidates: db.prepare<[number, string, number], ClaimRow>(
        `SELECT d.id, d.webhook_id, d.tenant_id, d.attempt_count, d.created_at, w.max_concurrency, w.timeout_ms,
                e.id AS event_id, e.type, e.data, e.metadata, e.created_at AS event_created_at
           FROM deliveries d
           JOIN webhooks w ON w.id = d.webhook_id AND w.status = 'active'
           JOIN events e ON e.id = d.event_id
          WHERE d.state = 'pending' AND d.next_attempt_at <= ?
            AND d.webhook_id NOT IN (SELECT value FROM json_each(?))
            -- Ordered webhooks: only the oldest open delivery may go; later ones wait for it to settle.
            AND (w.ordered = 0 OR NOT EXISTS (
                  SELECT 1 FROM deliveries p
                   WHERE p.webhook_id = d.webhook_id AND p.state IN ('pending', 'in_flight') AND p.id < d.id))
          ORDER BY d.next_attempt_at
          LIMIT ?`,
      ),
      lease: db.prepare("UPDATE deliveries SET state = 'in_flight', lease_owner = ?, lease_expires_at = ?, updated_at = ? WHERE id = ?"),
      insertAttempt: db.prepare(
        `INSERT INTO attempts (id, delivery_id, webhook_id, attempt_number, started_at, duration_ms, request_method, request_url,
           request_headers, response_status, response_headers, response_body, error_class, error_message)
         VALUES (@id, @delivery_id, @webhook_id, @attempt_number, @started_at, @duration_ms, @request_method, @request_url,
           @request_headers, @response_status, @response_headers, @response_body, @error_class, @error_message)`,
      ),
      settle: db.prepare(
        `UPDATE deliveries SET state = ?, attempt_count = ?, next_attempt_at = ?, last_status = ?, last_error = ?,
           lease_owner = NULL, lease_expires_at = NULL, updated_at = ?, completed_at = ?
         WHERE id = ? AND state = 'in_flight' AND lease_owner = ?`,
      ),
    };
  }

  claimDueDeliveries(request: ClaimRequest): DueDelivery[] {
    const s = this.statements;
    return this.db
      .transaction(() => {
        const candidates = s.claimCandidates.all(request.now, JSON.stringify(request.saturatedWebhookIds), request.limit);
        const taken = new Map<string, number>();
        const claimed: DueDelivery[] = [];
        for (const row of candidates) {
          const already = taken.get(row.webhook_id) ?? 0;
          if (already + request.inFlight(row.webhook_id) >= row.max_concurrency) continue;
          taken.set(row.webhook_id, already + 1);
          s.lease.run(request.owner, request.now + row.timeout_ms + request.leaseMarginMs, request.now, row.id);
          claimed.push({
            id: row.id,
            webhookId: row.webhook_id,
            tenantId: row.tenant_id,
            attemptCount: row.attempt_count,
            createdAt: row.created_at,
            event: { id: row.event_id, type: row.type, data: row.data, metadata: row.metadata, createdAt: row.event_created_at },
          });
        }
        return claimed;
      })
      .immediate();
  }

  recordAttempts(outcomes: AttemptOutcome[], owner: string): void {
    const s = this.statements;
    this.db
      .transaction(() => {
        for (const outcome of outcomes) {
          const { attempt } = outcome;
          s.insertAttempt.run(attemptToRow(attempt));
          const settledAt = attempt.startedAt + Math.round(attempt.durationMs);
          s.settle.run(
            outcome.state, attempt.attemptNumber, outcome.nextAttemptAt, attempt.response?.status ?? null,
            attempt.errorMessage, settledAt, outcome.state === "pending" ? null : settledAt, attempt.deliveryId, owner,
          );
        }
      })
      .immediate();
  }

  releaseLeases(filter: { expiredBefore?: number; owners?: string[] }, now: number): number {
    let changes = 0;
    if (filter.expiredBefore !== undefined) {
      changes += this.db
        .prepare(
          `UPDATE deliveries SET state = 'pending', next_attempt_at = ?, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
           WHERE state = 'in_flight' AND lease_expires_at < ?`,
        )
        .run(now, now, filter.expiredBefore).changes;
    }
    if (filter.owners?.length) {
      changes += this.db
        .prepare(
          `UPDATE deliveries SET state = 'pending', next_attempt_at = ?, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
           WHERE state = 'in_flight' AND lease_owner IN (SELECT value FROM json_each(?))`,
        )
        .run(now, now, JSON.stringify(filter.owners)).changes;
    }
    return changes;
  }

  listLeaseOwners(): string[] {
    return this.db
      .prepare<[], { lease_owner: string }>("SELECT DISTINCT lease_owner FROM deliveries WHERE state = 'in_flight' AND lease_owner IS NOT NULL")
      .all()
      .map((r) => r.lease_owner);
  }

  nextDueAt(after: number): number | null {
    const row = this.db
      .prepare<[number], { at: number | null }>("SELECT MIN(next_attempt_at) AS at FROM deliveries WHERE state = 'pending' AND next_attempt_at > ?")
      .get(after);
    return row?.at ?? null;
  }

  oldestDueAt(): number | null {
    const row = this.db
      .prepare<[], { at: number }>(
        `SELECT d.next_attempt_at AS at FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id AND w.status = 'active'
          WHERE d.state = 'pending' ORDER BY d.next_attempt_at LIMIT 1`,
      )
      .get();
    return row?.at ?? null;
  }
}
