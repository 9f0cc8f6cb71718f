/**
 * Retention: finished deliveries (with their attempts, by cascade) completed before the cutoff,
 * then events left with no delivery, at most `limit` of each per call so one call never holds
 * locks or bloats the WAL for long; the caller repeats until nothing is left. Rows another
 * transaction holds (a requeue at this moment) are skipped, not waited for: the next round
 * finds them if they are still finished.
 */
import type pg from "pg";
import { withTransaction } from "./transaction.js";

const DELETE_DELIVERIES_SQL = `
  DELETE FROM deliveries WHERE id IN (
    SELECT id FROM deliveries
     WHERE completed_at IS NOT NULL AND completed_at < $1 AND state <> 'pending'
     LIMIT $2
       FOR UPDATE SKIP LOCKED)`;

const DELETE_EVENTS_SQL = `
  DELETE FROM events WHERE id IN (
    SELECT e.id FROM events e
     WHERE e.created_at < $1 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)
     LIMIT $2
       FOR UPDATE SKIP LOCKED)`;

export async function deleteFinishedBefore(pool: pg.Pool, cutoff: number, limit: number): Promise<number> {
  return withTransaction(pool, async (client) => {
    const deleted = (await client.query(DELETE_DELIVERIES_SQL, [cutoff, limit])).rowCount ?? 0;
    await client.query(DELETE_EVENTS_SQL, [cutoff, limit]);
    return deleted;
  });
}
