/**
 * Every SQLite statement Herald runs goes through here: prepared once per SQL text and cached
 * for the life of the database handle. Preparing on every call cost 6.4% of ingest time
 * (getTenant and getEventType run per request); filtered lists build a handful of SQL
 * variants, each cached too. Shared SQL arrives with `$n` placeholders, rendered to `?` (see
 * ../sql/dialect.ts) when first prepared, so the cache is keyed by the text as written.
 */
import type Database from "better-sqlite3";
import { sqliteDialect } from "../sql/dialect.js";
import type { SqlParams } from "../sql/runner.js";

interface CachedStatement {
  statement: Database.Statement;
  /** Which value each `?` binds, when a `$n` repeats or appears out of order; null: as given. */
  order: number[] | null;
}

/** Synchronous statements on one better-sqlite3 handle, through its statement cache. */
export class SqliteConnection {
  private readonly statements = new Map<string, CachedStatement>();

  constructor(readonly db: Database.Database) {}

  all<T>(sql: string, params: SqlParams = []): T[] {
    const { statement, order } = this.prepared(sql);
    return statement.all(...bind(params, order)) as T[];
  }

  get<T>(sql: string, params: SqlParams = []): T | undefined {
    const { statement, order } = this.prepared(sql);
    return statement.get(...bind(params, order)) as T | undefined;
  }

  run(sql: string, params: SqlParams = []): { changes: number } {
    const { statement, order } = this.prepared(sql);
    return { changes: statement.run(...bind(params, order)).changes };
  }

  iterate<T>(sql: string, params: SqlParams = []): IterableIterator<T> {
    const { statement, order } = this.prepared(sql);
    return statement.iterate(...bind(params, order)) as IterableIterator<T>;
  }

  private prepared(sql: string): CachedStatement {
    let cached = this.statements.get(sql);
    if (cached === undefined) {
      const rendered = sqliteDialect.renderPlaceholders(sql);
      cached = { statement: this.db.prepare(rendered.sql), order: rendered.order };
      this.statements.set(sql, cached);
    }
    return cached;
  }
}

const bind = (params: SqlParams, order: number[] | null): unknown[] =>
  order === null ? (params as unknown[]) : order.map((index) => params[index]);

const connections = new WeakMap<Database.Database, SqliteConnection>();

/** The one connection (and statement cache) of `db`, shared by the store and the migrator. */
export function sqliteConnection(db: Database.Database): SqliteConnection {
  let connection = connections.get(db);
  if (connection === undefined) connections.set(db, (connection = new SqliteConnection(db)));
  return connection;
}
