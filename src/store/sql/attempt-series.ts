/**
 * A webhook's attempts over time, in fixed buckets (the dashboard's charts): per bucket, how many
 * attempts were made, how many got a 2xx, and the p50/p95 request duration. Computed in SQL with
 * window functions (SQLite >= 3.25, every PostgreSQL), so a chart over a busy webhook never loads
 * its attempts into memory; the attempts_webhook (webhook_id, started_at) index bounds the scan
 * to the chart's window.
 */
import type { AttemptSeriesBucket, AttemptSeriesQuery } from "../stats-series.js";
import type { SqlRunner } from "./runner.js";

/**
 * Percentiles are nearest-rank, as in webhook-stats.ts: the ceil(q * n)-th smallest duration,
 * offset ceil(q * n) - 1. The offsets use integer arithmetic ((n * q100 + 99) / 100 is
 * ceil(n * q)) because CAST(x AS INTEGER) truncates in SQLite but rounds in PostgreSQL.
 */
const ATTEMPT_SERIES_SQL = `WITH bucketed AS (
    SELECT (started_at - $2) / $4 AS bucket, duration_ms,
           CASE WHEN response_status BETWEEN 200 AND 299 THEN 1 ELSE 0 END AS ok
    FROM attempts
    WHERE webhook_id = $1 AND started_at >= $2 AND started_at < $3
  ), ranked AS (
    SELECT bucket, duration_ms, ok,
           ROW_NUMBER() OVER (PARTITION BY bucket ORDER BY duration_ms) - 1 AS rank,
           COUNT(*) OVER (PARTITION BY bucket) AS n
    FROM bucketed
  )
  SELECT bucket, COUNT(*) AS attempts, SUM(ok) AS succeeded,
         MIN(CASE WHEN rank = (n * 50 + 99) / 100 - 1 THEN duration_ms END) AS p50,
         MIN(CASE WHEN rank = (n * 95 + 99) / 100 - 1 THEN duration_ms END) AS p95
  FROM ranked GROUP BY bucket ORDER BY bucket`;

interface AttemptSeriesRow {
  bucket: number | string;
  attempts: number | string;
  succeeded: number | string;
  p50: number | string | null;
  p95: number | string | null;
}

export async function webhookAttemptSeries(db: SqlRunner, webhookId: string, query: AttemptSeriesQuery): Promise<AttemptSeriesBucket[]> {
  // BigInt binds as INTEGER in SQLite (a JS number binds as REAL), so the bucket division
  // truncates as the SQL expects; node-pg sends it as the same decimal text as a number.
  const rows = await db.all<AttemptSeriesRow>(ATTEMPT_SERIES_SQL, [
    webhookId, BigInt(Math.floor(query.since)), BigInt(Math.floor(query.until)), BigInt(Math.max(1, Math.floor(query.bucketMs))),
  ]);
  return toAttemptSeries(rows, query);
}

const round = (value: number) => Math.round(value * 100) / 100;

/** Every bucket of the window, empty ones included, so a chart's x axis is evenly spaced. */
function toAttemptSeries(rows: AttemptSeriesRow[], query: AttemptSeriesQuery): AttemptSeriesBucket[] {
  const byBucket = new Map(rows.map((row) => [Number(row.bucket), row]));
  const count = Math.ceil((query.until - query.since) / query.bucketMs);
  const buckets: AttemptSeriesBucket[] = [];
  for (let i = 0; i < count; i++) {
    const row = byBucket.get(i);
    const attempts = row ? Number(row.attempts) : 0;
    const succeeded = row ? Number(row.succeeded) : 0;
    buckets.push({
      start: query.since + i * query.bucketMs,
      attempts,
      succeeded,
      failed: attempts - succeeded,
      p50DurationMs: row?.p50 == null ? null : round(Number(row.p50)),
      p95DurationMs: row?.p95 == null ? null : round(Number(row.p95)),
    });
  }
  return buckets;
}
