import type pg from "pg";
import { fileURLToPath } from "node:url";
import { internalError } from "../../errors.js";
import { listMigrations } from "../migration-files.js";

/** Numbered, append-only migrations in migrations/postgres, the same sequence as migrations/sqlite. */
export const POSTGRES_MIGRATIONS_DIR = fileURLToPath(new URL("../../../migrations/postgres/", import.meta.url));

/**
 * Any fixed number works as long as nothing else in the database uses it; this one spells
 * "HRLD". Session-level (not transaction-level) so it spans the per-migration transactions.
 */
const MIGRATION_LOCK_KEY = 0x48524c44;

/**
 * Applies the migrations not applied yet, each in its own transaction. Several Herald processes
 * starting at once against an empty database all call this: the advisory lock lets the first
 * one migrate while the others wait, then find every version applied and do nothing.
 * Returns how many migrations this call applied.
 */
export async function applyPostgresMigrations(client: pg.ClientBase, schema: string | null, dir = POSTGRES_MIGRATIONS_DIR): Promise<number> {
  await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
  try {
    if (schema !== null) await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await client.query(
      "CREATE TABLE IF NOT EXISTS herald_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    );
    const { rows } = await client.query<{ version: number }>("SELECT version FROM herald_migrations");
    const applied = new Set(rows.map((r) => r.version));
    let count = 0;
    for (const migration of listMigrations(dir)) {
      if (applied.has(migration.version)) continue;
      await client.query("BEGIN");
      try {
        await client.query(migration.sql);
        await client.query("INSERT INTO herald_migrations (version, name, applied_at) VALUES ($1, $2, $3)", [
          migration.version, migration.name, Date.now(),
        ]);
        await client.query("COMMIT");
      } catch (cause) {
        await client.query("ROLLBACK");
        throw internalError(`PostgreSQL migration ${migration.name} failed: ${(cause as Error).message}`, { cause });
      }
      count++;
    }
    return count;
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]);
  }
}
