import type pg from "pg";

/**
 * Runs `fn` in a READ COMMITTED transaction on one pooled connection: COMMIT when it resolves,
 * ROLLBACK when it throws. A connection whose BEGIN or ROLLBACK failed is destroyed rather than
 * returned to the pool, so the next caller never inherits a half-open transaction.
 *
 * A connection the server ends between two statements (a restart, pg_terminate_backend)
 * reports it as an 'error' event on the client rather than as a failed query; node-pg's pool
 * listens only on idle clients, and an event nobody listens to would end the process. Here the
 * next statement fails instead (a store fault, see faults.ts) and the client is destroyed.
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onLost = (error: Error) => {
    broken = error;
  };
  client.on("error", onLost);
  const release = () => {
    client.off("error", onLost);
    client.release(broken);
  };
  try {
    await client.query("BEGIN");
  } catch (error) {
    broken ??= error as Error;
    release();
    throw error;
  }
  try {
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch((rollbackError: unknown) => {
      broken ??= rollbackError as Error;
    });
    throw error;
  } finally {
    release();
  }
}
