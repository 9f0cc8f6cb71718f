/**
 * `/recover` as a durable job: a webhook's failed deliveries are re-queued in bounded batches,
 * the cursor committed with each batch, so a restart half-way resumes where it stopped.
 * Several processes may resume the same running job after a restart: the job row is locked
 * for the batch, so they take turns and each batch is re-queued once.
 */
import type pg from "pg";
import type { RecoveryJob } from "../../domain/types.js";
import { type RecoveryJobRow, rowToRecoveryJob } from "../rows.js";
import { withTransaction } from "./transaction.js";

export async function insertRecoveryJob(pool: pg.Pool, job: RecoveryJob): Promise<void> {
  await pool.query(
    `INSERT INTO recovery_jobs (id, webhook_id, since, cursor, requeued, status, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [job.id, job.webhookId, job.since, job.cursor, job.requeued, job.status, job.createdAt, job.updatedAt],
  );
}

export async function getRecoveryJob(pool: pg.Pool, id: string): Promise<RecoveryJob | null> {
  const { rows } = await pool.query<RecoveryJobRow>("SELECT * FROM recovery_jobs WHERE id = $1", [id]);
  return rows[0] ? rowToRecoveryJob(rows[0]) : null;
}

export async function listRunningRecoveryJobs(pool: pg.Pool): Promise<RecoveryJob[]> {
  const { rows } = await pool.query<RecoveryJobRow>("SELECT * FROM recovery_jobs WHERE status = 'running' ORDER BY id");
  return rows.map(rowToRecoveryJob);
}

/** Returns the job after this batch, and how many deliveries the batch made due. */
export async function advanceRecoveryJob(
  pool: pg.Pool,
  id: string,
  batchSize: number,
  now: number,
): Promise<{ job: RecoveryJob | null; requeued: number }> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<RecoveryJobRow>("SELECT * FROM recovery_jobs WHERE id = $1 FOR UPDATE", [id]);
    const row = rows[0];
    if (!row || row.status !== "running") return { job: row ? rowToRecoveryJob(row) : null, requeued: 0 };
    const batch = await client.query<{ id: string }>(
      `SELECT id FROM deliveries WHERE webhook_id = $1 AND state = 'failed' AND created_at >= $2 AND id > $3
        ORDER BY id LIMIT $4`,
      [row.webhook_id, row.since, row.cursor ?? "", batchSize],
    );
    const ids = batch.rows.map((r) => r.id);
    if (ids.length > 0) {
      await client.query(
        `UPDATE deliveries SET state = 'pending', next_attempt_at = $1, completed_at = NULL, updated_at = $1
          WHERE id = ANY ($2::text[])`,
        [now, ids],
      );
    }
    const done = ids.length < batchSize;
    const updated = await client.query<RecoveryJobRow>(
      `UPDATE recovery_jobs SET cursor = $1, requeued = requeued + $2, status = $3, updated_at = $4 WHERE id = $5 RETURNING *`,
      [ids.at(-1) ?? row.cursor, ids.length, done ? "done" : "running", now, id],
    );
    return { job: updated.rows[0] ? rowToRecoveryJob(updated.rows[0]) : null, requeued: ids.length };
  });
}
