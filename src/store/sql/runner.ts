/**
 * The SQL layer both stores share. Most of what Herald keeps (tenants, keys, webhooks, events
 * and deliveries as read by the API, recovery jobs, retention, event types) is the same SQL on
 * SQLite and PostgreSQL, and used to be written twice, differing only in placeholder style. It
 * now lives once, one module per concept beside this file, each a set of functions over a
 * `SqlRunner`: a narrow async interface with one implementation per backend
 * (src/store/sqlite/sqlite-runner.ts over better-sqlite3, src/store/postgres/postgres-runner.ts
 * over node-pg), plus a `SqlDialect` for the few spellings that differ. `SqlStore`
 * (sql-store.ts) binds those functions to the `Store` interface.
 *
 * What stays per backend is what behaves differently when several callers act at once, not
 * what is spelled differently: claiming, ingest races and idempotency, attempt batching, lease
 * release, wake-ups (NOTIFY), migrations and connection handling (see sqlite-store.ts and
 * postgres-store.ts).
 *
 * SQL is written in PostgreSQL's numbered form, `$1`...`$n`, the one form that can say "the
 * same value again"; the SQLite runner renders it to `?` once per statement text, when it
 * prepares and caches the statement. Results come back as each driver returns them: PostgreSQL
 * returns BIGINT columns and COUNT(*) as strings, so shared code reads numbers through
 * `Number()` (the row mappers in ../rows.ts do the same).
 */
import type { SqlDialect } from "./dialect.js";

export type SqlParams = readonly unknown[];

export interface SqlRunner {
  readonly dialect: SqlDialect;
  all<T>(sql: string, params?: SqlParams): Promise<T[]>;
  get<T>(sql: string, params?: SqlParams): Promise<T | undefined>;
  run(sql: string, params?: SqlParams): Promise<{ changes: number }>;
  /**
   * Runs `fn` in one transaction on one connection: commits when it resolves, rolls back when
   * it throws. Inside, use only the runner `fn` is given. Transactions do not nest: a runner
   * already in a transaction runs `fn` in it.
   */
  transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T>;
}
