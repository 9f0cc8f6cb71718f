/**
 * The shared SQL layer's runner over better-sqlite3 (see ../sql/runner.ts).
 *
 * better-sqlite3 is synchronous, so one statement never interleaves with another; a
 * transaction of several statements awaited one by one could, though: between two of its
 * awaits other callers' statements would run inside it, and a rollback would undo their
 * writes after they had been told they succeeded. So while a transaction is open the
 * connection is held: statements from outside it, and the backend's own synchronous
 * transactions (`withConnection`), wait until it ends. It ends within the same turn of the
 * event loop unless `fn` awaits something else, so in practice nothing waits.
 *
 * Every call on the connection, the shared SQL's and the store's own, runs through here, so
 * this is where a failed call's error passes through the store's faults (../store-faults.ts):
 * a full disk or a read-only file becomes HERALD_ERR_STORE_UNAVAILABLE. Nothing is added to a
 * call that succeeds.
 */
import { sqliteDialect } from "../sql/dialect.js";
import type { SqlParams, SqlRunner } from "../sql/runner.js";
import { StoreFaults } from "../store-faults.js";
import type { SqliteConnection } from "./connection.js";
import { sqliteFault } from "./faults.js";

export class SqliteRunner implements SqlRunner {
  readonly dialect = sqliteDialect;
  /** Resolves when the transaction that holds the connection ends; null when none does. */
  private held: Promise<void> | null = null;
  private readonly inTransaction: SqlRunner;

  constructor(
    private readonly connection: SqliteConnection,
    readonly faults = new StoreFaults(sqliteFault),
  ) {
    this.inTransaction = immediateRunner(connection);
  }

  all<T>(sql: string, params?: SqlParams): Promise<T[]> {
    return this.withConnection(() => this.connection.all<T>(sql, params));
  }

  get<T>(sql: string, params?: SqlParams): Promise<T | undefined> {
    return this.withConnection(() => this.connection.get<T>(sql, params));
  }

  run(sql: string, params?: SqlParams): Promise<{ changes: number }> {
    return this.withConnection(() => this.connection.run(sql, params));
  }

  async transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T> {
    while (this.held !== null) await this.held;
    let release = () => {};
    this.held = new Promise((resolve) => (release = resolve));
    try {
      this.connection.run("BEGIN IMMEDIATE");
      try {
        const result = await fn(this.inTransaction);
        this.connection.run("COMMIT");
        return result;
      } catch (error) {
        if (this.connection.db.inTransaction) this.connection.run("ROLLBACK");
        throw error;
      }
    } catch (error) {
      throw this.faults.failed(error);
    } finally {
      this.held = null;
      release();
    }
  }

  /** Runs synchronous work on the connection (at once, unless a transaction holds it). */
  withConnection<T>(work: () => T): Promise<T> {
    if (this.held !== null) return this.held.then(() => this.withConnection(work));
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(this.faults.failed(error) as Error);
    }
  }
}

/** Runs each statement at once: what a transaction's `fn` is given, the connection being held for it. */
function immediateRunner(connection: SqliteConnection): SqlRunner {
  const runner: SqlRunner = {
    dialect: sqliteDialect,
    async all<T>(sql: string, params?: SqlParams) {
      return connection.all<T>(sql, params);
    },
    async get<T>(sql: string, params?: SqlParams) {
      return connection.get<T>(sql, params);
    },
    async run(sql: string, params?: SqlParams) {
      return connection.run(sql, params);
    },
    transaction: <T>(fn: (tx: SqlRunner) => Promise<T>) => fn(runner),
  };
  return runner;
}
