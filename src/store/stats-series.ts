/**
 * A webhook's attempts over time, in fixed buckets (the dashboard's charts): per bucket, how many
 * attempts were made, how many got a 2xx, and the p50/p95 request duration. Computed in SQL by
 * either backend with window functions (SQLite >= 3.25, every PostgreSQL), so a chart over a busy
 * webhook never loads its attempts into memory; the attempts_webhook (webhook_id, started_at)
 * index bounds the scan to the chart's window.
 */

export interface AttemptSeriesQuery {
  since: number;
  until: number;
  bucketMs: number;
}

export interface AttemptSeriesBucket {
  /** The bucket's start, epoch milliseconds. */
  start: number;
  attempts: number;
  succeeded: number;
  failed: number;
  p50DurationMs: number | null;
  p95DurationMs: number | null;
}

/**
 * `p` names the backend's placeholders (`@id`... in SQLite, `$1`... in PostgreSQL). Percentiles are
 * nearest-rank, as in stats.ts: the ceil(q * n)-th smallest duration, offset ceil(q * n) - 1. The
 * offsets use integer arithmetic ((n * q100 + 99) / 100 is ceil(n * q)) because CAST(x AS INTEGER)
 * truncates in SQLite but rounds in PostgreSQL.
 */
export function attemptSeriesSql(p: { id: string; since: string; until: string; bucket: string }): string {
  return `WITH bucketed AS (
      SELECT (started_at - ${p.since}) / ${p.bucket} AS bucket, duration_ms,
             CASE WHEN response_status BETWEEN 200 AND 299 THEN 1 ELSE 0 END AS ok
      FROM attempts
      WHERE webhook_id = ${p.id} AND started_at >= ${p.since} AND started_at < ${p.until}
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
}

export interface AttemptSeriesRow {
  bucket: number | string;
  attempts: number | string;
  succeeded: number | string;
  p50: number | string | null;
  p95: number | string | null;
}

const round = (value: number) => Math.round(value * 100) / 100;

/** Every bucket of the window, empty ones included, so a chart's x axis is evenly spaced. */
export function toAttemptSeries(rows: AttemptSeriesRow[], query: AttemptSeriesQuery): AttemptSeriesBucket[] {
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
