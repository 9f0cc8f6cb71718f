/**
 * `herald migrate`: opens the configured database and applies the numbered migrations it has
 * not seen yet, then says which ones it applied. The server migrates on start as well; this
 * command is for deploys that migrate first and start processes after.
 */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { Command } from "commander";
import { isHeraldError } from "../../errors.js";
import { DEFAULT_DATABASE_URL, parseDatabaseUrl } from "../../store/open-store.js";
import { listMigrations } from "../../store/migration-files.js";
import { applyMigrations, SQLITE_MIGRATIONS_DIR } from "../../store/sqlite/migrate.js";
import { CliError } from "../output.js";

interface MigrationReport {
  database: string;
  applied: string[];
  alreadyApplied: number;
}

export function registerMigrateCommand(program: Command): void {
  program
    .command("migrate")
    .description("apply database migrations to the configured store")
    .option("--database-url <url>", `sqlite:<path> or postgres://... (env HERALD_DATABASE_URL; default ${DEFAULT_DATABASE_URL})`)
    .option("--format <format>", "table or json", "table")
    .action(async (flags: { databaseUrl?: string; format: string }) => {
      const url = flags.databaseUrl ?? process.env.HERALD_DATABASE_URL ?? DEFAULT_DATABASE_URL;
      const report = await migrate(url);
      if (flags.format === "json") return console.log(JSON.stringify(report, null, 2));
      const what = report.applied.length === 0 ? "already up to date" : `applied ${report.applied.join(", ")}`;
      console.log(`${report.database}: ${what} (${report.alreadyApplied + report.applied.length} migrations in total)`);
    });
}

export async function migrate(databaseUrl: string): Promise<MigrationReport> {
  let parsed;
  try {
    parsed = parseDatabaseUrl(databaseUrl);
  } catch (error) {
    throw isHeraldError(error) ? new CliError(error.message) : error;
  }
  return parsed.backend === "sqlite" ? migrateSqlite(parsed.target) : migratePostgres(parsed.target);
}

function migrateSqlite(path: string): MigrationReport {
  if (path === ":memory:") throw new CliError("HERALD_DATABASE_URL: an in-memory database has nothing to migrate; give a file, e.g. sqlite:./data/herald.db");
  let db: Database.Database;
  try {
    mkdirSync(dirname(path), { recursive: true });
    db = new Database(path);
  } catch (error) {
    throw new CliError(`HERALD_DATABASE_URL: cannot open SQLite file ${path}: ${(error as Error).message}`);
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
    import("../../store/postgres/migrate.js"),
  ]);
  const client = new pg.Client({ connectionString });
  try {
    await client.connect();
  } catch (error) {
    throw new CliError(`HERALD_DATABASE_URL: cannot connect to PostgreSQL: ${(error as Error).message}`);
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
