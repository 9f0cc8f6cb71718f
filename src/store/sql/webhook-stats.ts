/**
 * Webhook statistics (seed 003's fields, plus attempt counts), computed in SQL: counts and aggregates come from
 * indexes, never from loading rows into memory.
 */
import type { WebhookStats } from "../../domain/types.js";
import { internalError } from "../../errors.js";
import type { SqlRunner } from "./runner.js";

const FAILED_ATTEMPT = "(response_status IS NULL OR response_status < 200 OR response_status > 299)";

const SUMMARY_SQL = `SELECT
  (SELECT COUNT(*) FROM deliveries WHERE webhook_id = $1) AS total,
  (SELECT COUNT(*) FROM deliveries WHERE webhook_id = $1 AND state = 'succeeded') AS succeeded,
  (SELECT COUNT(*) FROM deliveries WHERE webhook_id = $1 AND state = 'failed') AS failed,
  (SELECT COUNT(*) FROM attempts WHERE webhook_id = $1) AS attempts,
  (SELECT COUNT(*) FROM attempts WHERE webhook_id = $1 AND ${FAILED_ATTEMPT}) AS failed_attempts,
  (SELECT AVG(duration_ms) FROM attempts WHERE webhook_id = $1) AS average_duration,
  (SELECT MAX(started_at) FROM attempts WHERE webhook_id = $1) AS last_delivery,
  (SELECT MAX(started_at) FROM attempts WHERE webhook_id = $1 AND NOT ${FAILED_ATTEMPT}) AS last_success,
  (SELECT MAX(started_at) FROM attempts WHERE webhook_id = $1 AND ${FAILED_ATTEMPT}) AS last_failure`;

// The nearest-rank p95: the ceil(0.95 * n)-th smallest duration, i.e. offset ceil(0.95 * n) - 1.
const PERCENTILE_SQL = "SELECT duration_ms FROM attempts WHERE webhook_id = $1 ORDER BY duration_ms LIMIT 1 OFFSET $2";

interface SummaryRow {
  total: number | string;
  succeeded: number | string;
  failed: number | string;
  attempts: number | string;
  failed_attempts: number | string;
  average_duration: number | string | null;
  last_delivery: number | string | null;
  last_success: number | string | null;
  last_failure: number | string | null;
}

const p95Offset = (attempts: number): number => Math.max(Math.ceil(0.95 * attempts) - 1, 0);

export async function webhookStats(db: SqlRunner, webhookId: string): Promise<WebhookStats> {
  const summary = await db.get<SummaryRow>(SUMMARY_SQL, [webhookId]);
  if (summary === undefined) throw internalError("webhook statistics query returned no row");
  const attempts = Number(summary.attempts);
  const p95 = attempts === 0
    ? null
    : ((await db.get<{ duration_ms: number }>(PERCENTILE_SQL, [webhookId, p95Offset(attempts)]))?.duration_ms ?? null);
  return toWebhookStats(summary, p95);
}

const iso = (value: number | string | null) => (value === null ? null : new Date(Number(value)).toISOString());
const round = (value: number) => Math.round(value * 100) / 100;

function toWebhookStats(row: SummaryRow, p95: number | null): WebhookStats {
  const succeeded = Number(row.succeeded);
  const failed = Number(row.failed);
  return {
    total_deliveries: Number(row.total),
    successful_deliveries: succeeded,
    failed_deliveries: failed,
    failure_rate: succeeded + failed === 0 ? 0 : round(failed / (succeeded + failed)),
    total_attempts: Number(row.attempts),
    failed_attempts: Number(row.failed_attempts),
    average_duration: row.average_duration === null ? null : round(Number(row.average_duration)),
    p95_duration: p95 === null ? null : round(p95),
    last_delivery: iso(row.last_delivery),
    last_success: iso(row.last_success),
    last_failure: iso(row.last_failure),
  };
}
