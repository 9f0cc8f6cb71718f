/** Recovery jobs and retention on SQLite: bounded batches, one IMMEDIATE transaction each. */
import type Database from "better-sqlite3";
import type { RecoveryJob } from "../../domain/types.js";
import { type RecoveryJobRow, rowToRecoveryJob } from "../rows.js";

export class SqliteMaintenanceQueries {
  constructor(private readonly db: Database.Database) {}

  insertRecoveryJob(job: RecoveryJob): void {
    this.db
      .prepare(
        `INSERT INTO recovery_jobs (id, webhook_id, since, cursor, requeued, status, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(job.id, job.webhookId, job.since, job.cursor, job.requeued, job.status, job.createdAt, job.updatedAt);
  }

  getRecoveryJob(id: string): RecoveryJob | null {
    const row = this.db.prepare<[string], RecoveryJobRow>("SELECT * FROM recovery_jobs WHERE id = ?").get(id);
    return row ? rowToRecoveryJob(row) : null;
  }

  listRunningRecoveryJobs(): RecoveryJob[] {
    return this.db
      .prepare<[], RecoveryJobRow>("SELECT * FROM recovery_jobs WHERE status = 'running' ORDER BY id")
      .all()
      .map(rowToRecoveryJob);
  }

  advanceRecoveryJob(id: string, batchSize: number, now: number): RecoveryJob | null {
    return this.db
      .transaction(() => {
        const row = this.db.prepare<[string], RecoveryJobRow>("SELECT * FROM recovery_jobs WHERE id = ?").get(id);
        if (!row || row.status !== "running") return row ? rowToRecoveryJob(row) : null;
        const ids = this.db
          .prepare<[string, number, string, number], { id: string }>(
            `SELECT id FROM deliveries WHERE webhook_id = ? AND state = 'failed' AND created_at >= ? AND id > ?
             ORDER BY id LIMIT ?`,
          )
          .all(row.webhook_id, Number(row.since), row.cursor ?? "", batchSize)
          .map((r) => r.id);
        const requeue = this.db.prepare(
          "UPDATE deliveries SET state = 'pending', next_attempt_at = ?, completed_at = NULL, updated_at = ? WHERE id = ?",
        );
        for (const deliveryId of ids) requeue.run(now, now, deliveryId);
        const done = ids.length < batchSize;
        this.db
          .prepare("UPDATE recovery_jobs SET cursor = ?, requeued = requeued + ?, status = ?, updated_at = ? WHERE id = ?")
          .run(ids.at(-1) ?? row.cursor, ids.length, done ? "done" : "running", now, id);
        return rowToRecoveryJob(this.db.prepare<[string], RecoveryJobRow>("SELECT * FROM recovery_jobs WHERE id = ?").get(id)!);
      })
      .immediate();
  }

  deleteFinishedBefore(cutoff: number, limit: number): number {
    return this.db
      .transaction(() => {
        const deleted = this.db
          .prepare(
            `DELETE FROM deliveries WHERE id IN (
               SELECT id FROM deliveries WHERE completed_at IS NOT NULL AND completed_at < ? AND state <> 'pending' LIMIT ?)`,
          )
          .run(cutoff, limit).changes;
        this.db
          .prepare(
            `DELETE FROM events WHERE id IN (
               SELECT e.id FROM events e WHERE e.created_at < ?
                 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id) LIMIT ?)`,
          )
          .run(cutoff, limit);
        return deleted;
      })
      .immediate();
  }
}
