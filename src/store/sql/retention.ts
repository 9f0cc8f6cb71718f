/**
 * Retention: finished deliveries (with their attempts, by cascade) completed before the cutoff,
 * then events left with no delivery, at most `limit` of each per call so one call never holds
 * locks or bloats the WAL for long; the caller repeats until nothing is left. On PostgreSQL,
 * rows another transaction holds (a requeue at this moment) are skipped, not waited for: the
 * next round finds them if they are still finished.
 */
import type { SqlRunner } from "./runner.js";

export function deleteFinishedBefore(db: SqlRunner, cutoff: number, limit: number): Promise<number> {
  const skipLocked = db.dialect.forUpdateSkipLocked;
  return db.transaction(async (tx) => {
    const { changes } = await tx.run(
      `DELETE FROM deliveries WHERE id IN (
         SELECT id FROM deliveries
          WHERE completed_at IS NOT NULL AND completed_at < $1 AND state <> 'pending'
          LIMIT $2
          ${skipLocked})`,
      [cutoff, limit],
    );
    await tx.run(
      `DELETE FROM events WHERE id IN (
         SELECT e.id FROM events e
          WHERE e.created_at < $1 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)
          LIMIT $2
          ${skipLocked})`,
      [cutoff, limit],
    );
    return changes;
  });
}
