/**
 * Runs recovery jobs: each re-queues a webhook's failed deliveries since a time, in bounded
 * batches, one transaction per batch with its cursor. A job is a row, so a restart half-way
 * resumes from the last committed batch; between batches the runner yields so delivery and
 * the API keep going.
 */
import { uuidv7 } from "../domain/ids.js";
import type { RecoveryJob } from "../domain/types.js";
import type { Store } from "../store/store.js";

export const RECOVERY_BATCH_SIZE = 500;

export class RecoveryRunner {
  private active: Promise<void> | null = null;
  private stopped = true;

  constructor(
    private readonly store: Store,
    private readonly onBatch: (job: RecoveryJob) => void,
    private readonly onError: (error: unknown, context: string) => void,
    private readonly batchSize = RECOVERY_BATCH_SIZE,
  ) {}

  async enqueue(webhookId: string, since: number): Promise<RecoveryJob> {
    const now = Date.now();
    const job: RecoveryJob = { id: uuidv7(now), webhookId, since, cursor: null, requeued: 0, status: "running", createdAt: now, updatedAt: now };
    await this.store.insertRecoveryJob(job);
    this.kick();
    return job;
  }

  start(): void {
    this.stopped = false;
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.active;
  }

  /** Runs every unfinished job to its end, unless stopped; one run at a time. */
  kick(): void {
    if (this.stopped || this.active) return;
    this.active = this.runAll()
      .catch((error: unknown) => this.onError(error, "recovering deliveries"))
      .finally(() => {
        this.active = null;
      });
  }

  private async runAll(): Promise<void> {
    for (;;) {
      const jobs = await this.store.listRunningRecoveryJobs();
      if (jobs.length === 0 || this.stopped) return;
      for (const job of jobs) {
        let current: RecoveryJob | null = job;
        while (current?.status === "running" && !this.stopped) {
          current = await this.store.advanceRecoveryJob(current.id, this.batchSize, Date.now());
          if (current) this.onBatch(current);
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
    }
  }
}
