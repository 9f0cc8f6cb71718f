/**
 * Webhook statistics (seed 003's fields), computed in SQL by either backend: counts and
 * aggregates come from indexes, never from loading rows into memory. `p` is the backend's
 * placeholders for the webhook id and the percentile's offset (`@id`/`@offset` in SQLite, `$1`/`$2` in PostgreSQL).
 */
import type { WebhookStats } from "../domain/types.js";

export function webhookStatsSql(p: string, offset: string): { summary: string; percentile: string } {
  const failedAttempt = "(response_status IS NULL OR response_status < 200 OR response_status > 299)";
  return {
    summary: `SELECT
      (SELECT COUNT(*) FROM deliveries WHERE webhook_id = ${p}) AS total,
      (SELECT COUNT(*) FROM deliveries WHERE webhook_id = ${p} AND state = 'succeeded') AS succeeded,
      (SELECT COUNT(*) FROM deliveries WHERE webhook_id = ${p} AND state = 'failed') AS failed,
      (SELECT COUNT(*) FROM attempts WHERE webhook_id = ${p}) AS attempts,
      (SELECT AVG(duration_ms) FROM attempts WHERE webhook_id = ${p}) AS average_duration,
      (SELECT MAX(started_at) FROM attempts WHERE webhook_id = ${p}) AS last_delivery,
      (SELECT MAX(started_at) FROM attempts WHERE webhook_id = ${p} AND NOT ${failedAttempt}) AS last_success,
      (SELECT MAX(started_at) FROM attempts WHERE webhook_id = ${p} AND ${failedAttempt}) AS last_failure`,
    // The nearest-rank p95: the ceil(0.95 * n)-th smallest duration, i.e. offset ceil(0.95 * n) - 1.
    percentile: `SELECT duration_ms FROM attempts WHERE webhook_id = ${p} ORDER BY duration_ms LIMIT 1 OFFSET ${offset}`,
  };
}

export interface StatsSummaryRow {
  total: number | string;
  succeeded: number | string;
  failed: number | string;
  attempts: number | string;
  average_duration: number | string | null;
  last_delivery: number | string | null;
  last_success: number | string | null;
  last_failure: number | string | null;
}

export const p95Offset = (attempts: number): number => Math.max(Math.ceil(0.95 * attempts) - 1, 0);

const iso = (value: number | string | null) => (value === null ? null : new Date(Number(value)).toISOString());
const round = (value: number) => Math.round(value * 100) / 100;

export function toWebhookStats(row: StatsSummaryRow, p95: number | null): WebhookStats {
  const succeeded = Number(row.succeeded);
  const failed = Number(row.failed);
  return {
    total_deliveries: Number(row.total),
    successful_deliveries: succeeded,
    failed_deliveries: failed,
    failure_rate: succeeded + failed === 0 ? 0 : round(failed / (succeeded + failed)),
    average_duration: row.average_duration === null ? null : round(Number(row.average_duration)),
    p95_duration: p95 === null ? null : round(p95),
    last_delivery: iso(row.last_delivery),
    last_success: iso(row.last_success),
    last_failure: iso(row.last_failure),
  };
}
