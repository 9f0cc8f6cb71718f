/**
 * `/recover` as a durable job: a webhook's failed deliveries are re-queued in bounded batches,
 * the cursor committed with each batch, so a restart half-way resumes where it stopped.
 * Several PostgreSQL processes may resume the same running job after a restart: the job row is
 * locked for the batch (dialect.forUpdate), so they take turns and each batch is re-queued once.
 */
import type { RecoveryJob } from "../../domain/types.js";
import { type RecoveryJobRow, rowToRecoveryJob } from "../rows.js";
import type { SqlRunner } from "./runner.js";

export async function insertRecoveryJob(db: SqlRunner, job: RecoveryJob): Promise<void> {
  await db.run(
    `INSERT INTO recovery_jobs (id, webhook_id, since, cursor, requeued, status, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [job.id, job.webhookId, job.since, job.cursor, job.requeued, job.status, job.createdAt, job.updatedAt],
  );
}

export async function getRecoveryJob(db: SqlRunner, id: string): Promise<RecoveryJob | null> {
  const row = await db.get<RecoveryJobRow>("SELECT * FROM recovery_jobs WHERE id = $1", [id]);
  return row ? rowToRecoveryJob(row) : null;
}

export async function listRunningRecoveryJobs(db: SqlRunner): Promise<RecoveryJob[]> {
  return (await db.all<RecoveryJobRow>("SELECT * FROM recovery_jobs WHERE status = 'running' ORDER BY id")).map(rowToRecoveryJob);
}

/** Re-queues the job's next batch; returns the job after it, and how many deliveries the batch made due. */
export function advanceRecoveryJob(
  db: SqlRunner,
  id: string,
  batchSize: number,
  now: number,
): Promise<{ job: RecoveryJob | null; requeued: number }> {
  const { dialect } = db;
  return db.transaction(async (tx) => {
    const row = await tx.get<RecoveryJobRow>(`SELECT * FROM recovery_jobs WHERE id = $1 ${dialect.forUpdate}`, [id]);
    if (!row || row.status !== "running") return { job: row ? rowToRecoveryJob(row) : null, requeued: 0 };
    const batch = await tx.all<{ id: string }>(
      `SELECT id FROM deliveries WHERE webhook_id = $1 AND state = 'failed' AND created_at >= $2 AND id > $3
        ORDER BY id LIMIT $4`,
      [row.webhook_id, Number(row.since), row.cursor ?? "", batchSize],
    );
    const ids = batch.map((r) => r.id);
    if (ids.length > 0) {
      await tx.run(
        `UPDATE deliveries SET state = 'pending', next_attempt_at = $1, completed_at = NULL, updated_at = $1
          WHERE ${dialect.inTextList("id", "$2")}`,
        [now, dialect.textList(ids)],
      );
    }
    const done = ids.length < batchSize;
    const updated = await tx.get<RecoveryJobRow>(
      "UPDATE recovery_jobs SET cursor = $1, requeued = requeued + $2, status = $3, updated_at = $4 WHERE id = $5 RETURNING *",
      [ids.at(-1) ?? row.cursor, ids.length, done ? "done" : "running", now, id],
    );
    return { job: updated ? rowToRecoveryJob(updated) : null, requeued: ids.length };
  });
}
