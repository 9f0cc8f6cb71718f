/**
 * Lease expiry on SQLite: deliveries left in_flight by a worker that crashed (or is known dead)
 * become due again. One process owns the file's workers, so no row can be mid-settlement in
 * another transaction, unlike PostgreSQL (see ../postgres/release-leases.ts).
 */
import type { LeaseFilter } from "../store.js";
import type { SqliteConnection } from "./connection.js";

const RELEASE_SQL = (match: string) => `
  UPDATE deliveries SET state = 'pending', next_attempt_at = $1, lease_owner = NULL, lease_expires_at = NULL, updated_at = $1
   WHERE state = 'in_flight' AND ${match}`;

const RELEASE_EXPIRED_SQL = RELEASE_SQL("lease_expires_at < $2");
const RELEASE_OWNED_SQL = RELEASE_SQL("lease_owner IN (SELECT value FROM json_each($2))");
const RELEASE_HELD_SQL = RELEASE_SQL("lease_owner = $2 AND id IN (SELECT value FROM json_each($3))");

export function releaseLeases(connection: SqliteConnection, filter: LeaseFilter, now: number): number {
  let released = 0;
  if (filter.expiredBefore !== undefined) released += connection.run(RELEASE_EXPIRED_SQL, [now, filter.expiredBefore]).changes;
  if (filter.owners?.length) released += connection.run(RELEASE_OWNED_SQL, [now, JSON.stringify(filter.owners)]).changes;
  if (filter.held?.ids.length) released += connection.run(RELEASE_HELD_SQL, [now, filter.held.owner, JSON.stringify(filter.held.ids)]).changes;
  return released;
}
