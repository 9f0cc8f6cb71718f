import type Database from "better-sqlite3";
import { fileURLToPath } from "node:url";
import { listMigrations } from "../migration-files.js";
import { sqliteConnection } from "./connection.js";

/** Numbered, append-only migrations in migrations/sqlite (000001_init.sql, ...), each applied once in its own transaction. */
export const SQLITE_MIGRATIONS_DIR = fileURLToPath(new URL("../../../migrations/sqlite/", import.meta.url));

export function applyMigrations(db: Database.Database, dir = SQLITE_MIGRATIONS_DIR): number {
  const connection = sqliteConnection(db);
  db.exec("CREATE TABLE IF NOT EXISTS herald_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
  const applied = new Set(connection.all<{ version: number }>("SELECT version FROM herald_migrations").map((r) => r.version));
  let count = 0;
  for (const migration of listMigrations(dir)) {
    if (applied.has(migration.version)) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      connection.run("INSERT INTO herald_migrations (version, name, applied_at) VALUES ($1, $2, $3)", [migration.version, migration.name, Date.now()]);
    }).immediate();
    count++;
  }
  return count;
}
