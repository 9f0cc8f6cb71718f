/**
 * Lease expiry: a worker that crashed or lost its connection leaves its deliveries in_flight;
 * any worker makes them due again once their lease has run out (or at once, when the dispatcher
 * knows the owner is dead). Rows are picked `FOR UPDATE SKIP LOCKED`, so a release never waits
 * on (or deadlocks with) a worker that is settling those very rows in recordAttempts right now:
 * it skips them, and they are settled anyway.
 */
import type pg from "pg";
import type { LeaseFilter } from "../store.js";

const RELEASE_SQL = (match: string) => `
  UPDATE deliveries
     SET state = 'pending', next_attempt_at = $1, lease_owner = NULL, lease_expires_at = NULL, updated_at = $1
   WHERE state = 'in_flight'
     AND id IN (SELECT id FROM deliveries WHERE state = 'in_flight' AND ${match} FOR UPDATE SKIP LOCKED)`;

const RELEASE_EXPIRED_SQL = RELEASE_SQL("lease_expires_at < $2");
const RELEASE_OWNED_SQL = RELEASE_SQL("lease_owner = ANY ($2::text[])");
const RELEASE_HELD_SQL = RELEASE_SQL("lease_owner = $2 AND id = ANY ($3::text[])");

export async function releaseLeases(pool: pg.Pool, filter: LeaseFilter, now: number): Promise<number> {
  let released = 0;
  if (filter.expiredBefore !== undefined) {
    released += (await pool.query(RELEASE_EXPIRED_SQL, [now, filter.expiredBefore])).rowCount ?? 0;
  }
  if (filter.owners?.length) {
    released += (await pool.query(RELEASE_OWNED_SQL, [now, filter.owners])).rowCount ?? 0;
  }
  if (filter.held?.ids.length) {
    released += (await pool.query(RELEASE_HELD_SQL, [now, filter.held.owner, filter.held.ids])).rowCount ?? 0;
  }
  return released;
}
