/** The shape of a webhook's attempt series (the dashboard's charts); the SQL is in sql/attempt-series.ts. */

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
