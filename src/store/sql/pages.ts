/**
 * The list endpoints' shape: optional filters become numbered placeholders, and pages are
 * cursor-based on the UUIDv7 id (ascending for webhooks, newest first for events and
 * deliveries), so a cursor never skips or repeats a row.
 */
import type { Page } from "../../domain/types.js";
import { pageOf } from "../rows.js";
import type { SqlRunner } from "./runner.js";

const DEFAULT_PAGE = 50;
const MAX_PAGE = 1000;

export const pageLimit = (limit: number | undefined): number => Math.min(Math.max(limit ?? DEFAULT_PAGE, 1), MAX_PAGE);

/** A list query's conditions and their values, placeholders numbered as values are added. */
export class ListQuery {
  readonly params: unknown[] = [];
  private readonly conditions: string[] = [];

  /** The placeholder that binds `value`. */
  param(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }

  where(condition: string): void {
    this.conditions.push(condition);
  }

  whereClause(): string {
    return this.conditions.length ? "WHERE " + this.conditions.join(" AND ") : "";
  }
}

/** One page of `table`'s rows matching `q`, newest (highest UUIDv7 id) first, after `page.cursor`. */
export async function newestFirstPage<Row extends { id: string }, Item>(
  db: SqlRunner,
  table: "events" | "deliveries",
  q: ListQuery,
  page: { limit?: number; cursor?: string },
  toItem: (row: Row) => Item,
): Promise<Page<Item>> {
  if (page.cursor !== undefined) q.where(`id < ${q.param(page.cursor)}`);
  const limit = pageLimit(page.limit);
  const rows = await db.all<Row>(`SELECT * FROM ${table} ${q.whereClause()} ORDER BY id DESC LIMIT ${q.param(limit + 1)}`, q.params);
  const { items, nextCursor } = pageOf(rows, limit);
  return { items: items.map(toItem), nextCursor };
}
