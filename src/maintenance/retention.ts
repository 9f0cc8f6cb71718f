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

export function startRetention(store: Store, options: RetentionOptions, onError: (error: unknown, context: string) => void): () => void {
  let running = false;
  const run = () => {
    if (running) return;
    running = true;
    purgeExpiredRecords(store, Date.now() - options.retentionDays * 86_400_000, options.batchSize)
      .catch((error: unknown) => onError(error, "deleting expired delivery records"))
      .finally(() => {
        running = false;
      });
  };
  const timer = setInterval(run, options.intervalMs);
  timer.unref();
  run();
  return () => clearInterval(timer);
}
