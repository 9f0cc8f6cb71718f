import type pg from "pg";

/**
 * Runs `fn` in a READ COMMITTED transaction on one pooled connection: COMMIT when it resolves,
 * ROLLBACK when it throws. A connection whose BEGIN or ROLLBACK failed is destroyed rather than
 * returned to the pool, so the next caller never inherits a half-open transaction.
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
  } catch (error) {
    client.release(error as Error);
    throw error;
  }
  let broken: Error | undefined;
  try {
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch((rollbackError: unknown) => {
      broken = rollbackError as Error;
    });
    throw error;
  } finally {
    client.release(broken);
  }
}
