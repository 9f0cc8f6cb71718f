/**
 * The scale-out store: PostgreSQL through node-pg, for several Herald processes (API-only and
 * worker-only) on one database. Same interface, same columns and the same conformance suite as
 * the SQLite store, and the same SQL for everything both do alike (../sql/sql-store.ts). What
 * is here is how claims, ingest idempotency, attempt batches, lease release and wake-ups behave
 * when other processes do the same thing at the same moment (see claim.ts, ingest.ts,
 * record-attempts.ts, release-leases.ts, work-notifier.ts). Every statement is raw, parameterised SQL.
 * Every call but migrate() maps its errors through the runner (faults.ts): a read-only database,
 * a full disk or a lost connection answers HERALD_ERR_STORE_UNAVAILABLE.
 */
import pg from "pg";
import type { RecoveryJob, Webhook, WebhookStatus } from "../../domain/types.js";
import { configError } from "../../errors.js";
import type { SecretBox } from "../../secrets/secret-box.js";
import { advanceRecoveryJob } from "../sql/recovery.js";
import { SqlStore } from "../sql/sql-store.js";
import type { AttemptOutcome, ClaimRequest, DueDelivery, IngestRequest, IngestResult, LeaseFilter } from "../store.js";
import { claimDueDeliveries } from "./claim.js";
import { ingestOne } from "./ingest.js";
import { applyPostgresMigrations } from "./migrate.js";
import { PostgresRunner } from "./postgres-runner.js";
import { recordAttempts } from "./record-attempts.js";
import { releaseLeases } from "./release-leases.js";
import { withTransaction } from "./transaction.js";
import { WorkNotifier } from "./work-notifier.js";

/**
 * Connections per process. A worker uses at most about four at once (a claim, a batch of
 * outcomes, the lease check, nextDueAt); an API process one per concurrent ingest or read,
 * each held for a few milliseconds. Ten serves both with room, and keeps N + M processes
 * well under PostgreSQL's default max_connections of 100 for N + M up to about eight
 * (see docs/scaling.md). Plus one LISTEN connection in processes that run workers.
 */
export const DEFAULT_POOL_SIZE = 10;

export interface PostgresStoreOptions {
  connectionString: string;
  secretBox: SecretBox;
  /** Keep Herald's tables in this schema (created if missing) instead of the connection's default. */
  schema?: string;
  poolSize?: number;
  /** Connection problems that do not fail a call (an idle connection dropped, a lost LISTEN). */
  onError?: (error: unknown, context: string) => void;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,39}$/;
/**
 * A hung process must not hold row locks for ever: PostgreSQL ends its session after a minute
 * idle inside a transaction. Herald's transactions never wait on anything but the database.
 */
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000;

export class PostgresStore extends SqlStore {
  readonly backend = "postgres" as const;
  readonly capabilities = { multiProcess: true, crossProcessWakeups: true };
  readonly pool: pg.Pool;
  readonly schema: string | null;
  private readonly notifier: WorkNotifier;
  /** `sql`, with its `guard` for the calls below that use the pool directly. */
  private readonly runner: PostgresRunner;
  private closing: Promise<void> | null = null;

  /** Connects, migrates and returns a ready store; a database that cannot be reached is a configuration error. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const store = new PostgresStore(options);
    try {
      await store.migrate();
    } catch (cause) {
      await store.close();
      if (cause instanceof Error && "code" in cause && typeof cause.code === "string" && /^[0-9A-Z]{5}$/.test(cause.code) && !cause.code.startsWith("08")) {
        throw cause; // an SQL error from a reachable server: not a connection problem
      }
      throw configError("HERALD_DATABASE_URL", `cannot connect to PostgreSQL: ${(cause as Error).message}`, cause);
    }
    return store;
  }

  constructor(options: PostgresStoreOptions) {
    if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
      throw configError("schema", `${JSON.stringify(options.schema)} must be lower-case letters, digits and _ (at most 40)`);
    }
    const schema = options.schema ?? null;
    // Session settings travel as startup options of every connection: no extra query, and no
    // race with the first query the pool runs on a new connection.
    const settings = `${schema ? `-c search_path=${schema} ` : ""}-c idle_in_transaction_session_timeout=${IDLE_IN_TRANSACTION_TIMEOUT_MS}`;
    const pool = new pg.Pool({ connectionString: options.connectionString, max: options.poolSize ?? DEFAULT_POOL_SIZE, options: settings });
    const runner = new PostgresRunner(pool);
    super(runner, options.secretBox, runner.faults);
    this.runner = runner;
    this.schema = schema;
    this.pool = pool;
    const onError = options.onError ?? ((error: unknown, context: string) => console.error(`herald: postgres: ${context}:`, error));
    // An idle connection that breaks (server restart, network) emits here; without a listener it would crash the process.
    this.pool.on("error", (error) => onError(error, "idle connection lost"));
    const channel = this.schema ? `herald_work_${this.schema}` : "herald_work";
    this.notifier = new WorkNotifier(this.pool, { connectionString: options.connectionString }, channel, onError);
  }

  /** Not through the runner's guard: open() tells a server it cannot reach from an SQL error by the driver's own error. */
  async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await applyPostgresMigrations(client, this.schema);
    } finally {
      client.release();
    }
  }

  close(): Promise<void> {
    this.closing ??= this.notifier.close().then(() => this.pool.end());
    return this.closing;
  }

  /** Calls `listener` when another process (or this one) may have made deliveries due. */
  onWorkAvailable(listener: () => void): () => void {
    return this.notifier.subscribe(listener);
  }

  // ---- ingest and dispatch

  async ingest(request: IngestRequest): Promise<IngestResult> {
    const result = await this.runner.guard(withTransaction(this.pool, (client) => ingestOne(client, request)));
    if (!result.duplicate && result.deliveryIds.length > 0) this.notifier.notify();
    return result;
  }

  async ingestMany(requests: IngestRequest[]): Promise<IngestResult[]> {
    if (requests.length === 0) return [];
    const results = await this.runner.guard(
      withTransaction(this.pool, async (client) => {
        const done: IngestResult[] = [];
        for (const request of requests) done.push(await ingestOne(client, request));
        return done;
      }),
    );
    if (results.some((r) => !r.duplicate && r.deliveryIds.length > 0)) this.notifier.notify();
    return results;
  }

  claimDueDeliveries(request: ClaimRequest): Promise<DueDelivery[]> {
    return this.runner.guard(claimDueDeliveries(this.pool, request));
  }

  recordAttempts(outcomes: AttemptOutcome[], owner: string): Promise<void> {
    return this.runner.guard(recordAttempts(this.pool, outcomes, owner));
  }

  async releaseLeases(filter: LeaseFilter, now: number): Promise<number> {
    const released = await this.runner.guard(releaseLeases(this.pool, filter, now));
    if (released > 0) this.notifier.notify();
    return released;
  }

  // ---- shared writes that make work due: wake the workers of every process

  override async updateWebhook(webhook: Webhook): Promise<boolean> {
    const updated = await super.updateWebhook(webhook);
    if (webhook.status === "active") this.notifier.notify(); // a resumed webhook's backlog is due
    return updated;
  }

  override async setWebhookStatus(id: string, status: WebhookStatus, reason: string | null, now: number): Promise<boolean> {
    const updated = await super.setWebhookStatus(id, status, reason, now);
    if (status === "active" && updated) this.notifier.notify();
    return updated;
  }

  override async requeueDelivery(id: string, now: number): Promise<boolean> {
    const requeued = await super.requeueDelivery(id, now);
    if (requeued) this.notifier.notify();
    return requeued;
  }

  override async advanceRecoveryJob(id: string, batchSize: number, now: number): Promise<RecoveryJob | null> {
    const { job, requeued } = await advanceRecoveryJob(this.sql, id, batchSize, now);
    if (requeued > 0) this.notifier.notify();
    return job;
  }
}
