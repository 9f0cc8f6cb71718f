/**
 * Retention (seed 003's cleanup): finished delivery records and their attempts older than the
 * retention span are deleted every interval, in bounded batches with a yield between them, so
 * a large purge never holds the store for long.
 */
import type { Store } from "../store/store.js";

export interface RetentionOptions {
  retentionDays: number;
  intervalMs: number;
  batchSize?: number;
}

export async function purgeExpiredRecords(store: Store, cutoff: number, batchSize = 1_000): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await store.deleteFinishedBefore(cutoff, batchSize);
    total += deleted;
    if (deleted < batchSize) return total;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Starts the cleanup; the returned stop resolves once a purge under way has finished. */
export function startRetention(store: Store, options: RetentionOptions, onError: (error: unknown, context: string) => void): () => Promise<void> {
  let running: Promise<void> | null = null;
  const run = () => {
    if (running) return;
    running = purgeExpiredRecords(store, Date.now() - options.retentionDays * 86_400_000, options.batchSize)
      .then(
        () => undefined,
        (error: unknown) => onError(error, "deleting expired delivery records"),
      )
      .finally(() => {
        running = null;
      });
  };
  const timer = setInterval(run, options.intervalMs);
  timer.unref();
  run();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
