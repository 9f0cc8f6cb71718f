/**
 * The shared SQL layer's runner over node-pg (see ../sql/runner.ts): statements on the pool,
 * or, inside a transaction, on the one connection the transaction holds.
 *
 * Every call of the store, the shared SQL's and (through `guard`) the backend's own claims,
 * ingests and attempt batches, runs through here, so this is where a failed call's error passes
 * through the store's faults (../store-faults.ts): a read-only database or a lost connection
 * becomes HERALD_ERR_STORE_UNAVAILABLE.
 */
import type pg from "pg";
import { postgresDialect } from "../sql/dialect.js";
import type { SqlParams, SqlRunner } from "../sql/runner.js";
import { StoreFaults } from "../store-faults.js";
import { postgresFault } from "./faults.js";
import { withTransaction } from "./transaction.js";

export class PostgresRunner implements SqlRunner {
  readonly dialect = postgresDialect;

  /** `client`: the connection of the transaction this runner is inside; null outside one. */
  constructor(
    private readonly pool: pg.Pool,
    readonly faults = new StoreFaults(postgresFault),
    private readonly client: pg.PoolClient | null = null,
  ) {}

  async all<T>(sql: string, params: SqlParams = []): Promise<T[]> {
    return (await this.query(sql, params)).rows as T[];
  }

  async get<T>(sql: string, params: SqlParams = []): Promise<T | undefined> {
    return (await this.query(sql, params)).rows[0] as T | undefined;
  }

  async run(sql: string, params: SqlParams = []): Promise<{ changes: number }> {
    return { changes: (await this.query(sql, params)).rowCount ?? 0 };
  }

  transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T> {
    if (this.client !== null) return fn(this);
    return this.guard(withTransaction(this.pool, (client) => fn(new PostgresRunner(this.pool, this.faults, client))));
  }

  /** `work`'s result, or its error as the store's faults map it. */
  guard<T>(work: Promise<T>): Promise<T> {
    return work.catch((error: unknown) => {
      throw this.faults.failed(error);
    });
  }

  private query(sql: string, params: SqlParams): Promise<pg.QueryResult> {
    return this.guard((this.client ?? this.pool).query(sql, params as unknown[]));
  }
}
