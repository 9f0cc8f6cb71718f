/**
 * `herald migrate`: applies the store's numbered, append-only migrations (migrations/) to the
 * configured database without starting an engine, and reports what it applied. The engine
 * applies the same migrations itself when it opens a store; this is for deployments that
 * migrate as a separate step.
 */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { configError } from "../errors.js";
import { parseDatabaseUrl } from "../store/open-store.js";
import { listMigrations } from "../store/migration-files.js";
import { applyMigrations, SQLITE_MIGRATIONS_DIR } from "../store/sqlite/migrate.js";

export interface MigrationReport {
  database: string;
  applied: string[];
  alreadyApplied: number;
}

export async function migrateDatabase(databaseUrl: string): Promise<MigrationReport> {
  const parsed = parseDatabaseUrl(databaseUrl);
  return parsed.backend === "sqlite" ? migrateSqlite(parsed.target) : migratePostgres(parsed.target);
}

function migrateSqlite(path: string): MigrationReport {
  if (path === ":memory:") throw configError("HERALD_DATABASE_URL", "an in-memory database has nothing to migrate; give a file, e.g. sqlite:./data/herald.db");
  let db: Database.Database;
  try {
    mkdirSync(dirname(path), { recursive: true });
    db = new Database(path);
  } catch (error) {
    throw configError("HERALD_DATABASE_URL", `cannot open SQLite file ${path}: ${(error as Error).message}`, error);
  }
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("busy_timeout = 5000");
    const before = appliedVersions(() =>
      db.prepare<[], { version: number }>("SELECT version FROM herald_migrations").all().map((r) => r.version),
    );
    applyMigrations(db);
    return report(`sqlite:${path}`, listMigrations(SQLITE_MIGRATIONS_DIR), before);
  } finally {
    db.close();
  }
}

async function migratePostgres(connectionString: string): Promise<MigrationReport> {
  // Loaded only here so a SQLite-only install never touches pg.
  const [{ default: pg }, { applyPostgresMigrations, POSTGRES_MIGRATIONS_DIR }] = await Promise.all([
    import("pg"),
    import("../store/postgres/migrate.js"),
  ]);
  const client = new pg.Client({ connectionString });
  try {
    await client.connect();
  } catch (error) {
    throw configError("HERALD_DATABASE_URL", `cannot connect to PostgreSQL: ${(error as Error).message}`, error);
  }
  try {
    const existing = await client.query<{ present: string | null }>("SELECT to_regclass('herald_migrations') AS present");
    const before = existing.rows[0]?.present
      ? (await client.query<{ version: number }>("SELECT version FROM herald_migrations")).rows.map((r) => r.version)
      : [];
    await applyPostgresMigrations(client, null);
    return report(`postgres ${redactPassword(connectionString)}`, listMigrations(POSTGRES_MIGRATIONS_DIR), new Set(before));
  } finally {
    await client.end();
  }
}

function appliedVersions(read: () => number[]): Set<number> {
  try {
    return new Set(read());
  } catch {
    // No herald_migrations table yet: a fresh database.
    return new Set();
  }
}

function report(database: string, all: Array<{ version: number; name: string }>, before: Set<number>): MigrationReport {
  return {
    database,
    applied: all.filter((m) => !before.has(m.version)).map((m) => m.name),
    alreadyApplied: all.filter((m) => before.has(m.version)).length,
  };
}

function redactPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "****";
    return parsed.toString();
  } catch {
    return "(unparseable URL)";
  }
}
