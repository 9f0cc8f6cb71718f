/**
 * The shared SQL layer's runner over node-pg (see ../sql/runner.ts): statements on the pool,
 * or, inside a transaction, on the one connection the transaction holds.
 */
import type pg from "pg";
import { postgresDialect } from "../sql/dialect.js";
import type { SqlParams, SqlRunner } from "../sql/runner.js";
import { withTransaction } from "./transaction.js";

export class PostgresRunner implements SqlRunner {
  readonly dialect = postgresDialect;

  /** `client`: the connection of the transaction this runner is inside; null outside one. */
  constructor(
    private readonly pool: pg.Pool,
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
    return withTransaction(this.pool, (client) => fn(new PostgresRunner(this.pool, client)));
  }

  private query(sql: string, params: SqlParams): Promise<pg.QueryResult> {
    return (this.client ?? this.pool).query(sql, params as unknown[]);
  }
}
