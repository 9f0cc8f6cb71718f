/**
 * Where SQLite and PostgreSQL spell the shared SQL differently: a small table, not `if (pg)`
 * through the queries. Everything else is written once in the common subset (both accept
 * `excluded` in ON CONFLICT, RETURNING, window functions, `$n` placeholders once rendered).
 */

export interface SqlDialect {
  readonly name: "sqlite" | "postgres";
  /**
   * Renders `$1`...`$n` for the driver. `order` lists, per placeholder in the rendered text,
   * which value it binds (null: the values as given).
   */
  renderPlaceholders(sql: string): { sql: string; order: number[] | null };
  /**
   * Locks the rows a transaction reads before it writes them. Empty in SQLite, where a write
   * transaction already excludes every other writer.
   */
  readonly forUpdate: string;
  /** Like forUpdate, but rows another transaction holds are left out rather than waited for. */
  readonly forUpdateSkipLocked: string;
  /** `column` is one of the strings bound at `placeholder` as `textList(values)`. */
  inTextList(column: string, placeholder: string): string;
  textList(values: readonly string[]): unknown;
}

const PLACEHOLDER = /\$(\d+)/g;

export const sqliteDialect: SqlDialect = {
  name: "sqlite",
  // better-sqlite3 binds `?` by position and treats `?NNN` as named, so each `$n` becomes `?`
  // and a value used twice is bound twice.
  renderPlaceholders(sql) {
    const order: number[] = [];
    const rendered = sql.replace(PLACEHOLDER, (_, n: string) => {
      order.push(Number(n) - 1);
      return "?";
    });
    return { sql: rendered, order: order.every((value, i) => value === i) ? null : order };
  },
  forUpdate: "",
  forUpdateSkipLocked: "",
  inTextList: (column, placeholder) => `${column} IN (SELECT value FROM json_each(${placeholder}))`,
  textList: (values) => JSON.stringify(values),
};

export const postgresDialect: SqlDialect = {
  name: "postgres",
  renderPlaceholders: (sql) => ({ sql, order: null }),
  forUpdate: "FOR UPDATE",
  forUpdateSkipLocked: "FOR UPDATE SKIP LOCKED",
  inTextList: (column, placeholder) => `${column} = ANY (${placeholder}::text[])`,
  textList: (values) => values,
};
