/**
 * The scale-out store: PostgreSQL through node-pg, for several Herald processes (API-only and
 * worker-only) on one database. Same interface, same columns and the same conformance suite as
 * the SQLite store; what differs is how claims, ingest idempotency and wake-ups behave when
 * other processes do the same thing at the same moment (see claim.ts, ingest.ts,
 * work-notifier.ts). Every statement is raw, parameterised SQL.
 */
import pg from "pg";
import type {
  Delivery, DeliveryState, EventType, HeraldEvent, Page, RecoveryJob, Tenant, Webhook, WebhookStats, WebhookStatus,
} from "../../domain/types.js";
import { HeraldError } from "../../errors.js";
import type { SecretBox } from "../../secrets/secret-box.js";
import {
  type ApiKeyRow, type AttemptRow, type DeliveryRow, type EventRow, type EventTypeRow, type TenantRow, type WebhookRow,
  rowToApiKey, rowToAttempt, rowToDelivery, rowToEvent, rowToEventType, rowToTenant, rowToWebhook, webhookToRow,
} from "../rows.js";
import { type AttemptSeriesQuery, type AttemptSeriesRow, attemptSeriesSql, toAttemptSeries } from "../stats-series.js";
import { type StatsSummaryRow, p95Offset, toWebhookStats, webhookStatsSql } from "../stats.js";
import type {
  AttemptOutcome, ClaimRequest, DeliveryFilter, DueDelivery, EventFilter, IngestRequest, IngestResult, Store, StoredApiKey,
  WebhookFilter,
} from "../store.js";
import { claimDueDeliveries } from "./claim.js";
import { ingestOne } from "./ingest.js";
import { listDeliveries, listEvents, listWebhooks } from "./list-queries.js";
import { applyPostgresMigrations } from "./migrate.js";
import { advanceRecoveryJob, getRecoveryJob, insertRecoveryJob, listRunningRecoveryJobs } from "./recovery.js";
import { recordAttempts } from "./record-attempts.js";
import { releaseLeases } from "./release-leases.js";
import { deleteFinishedBefore } from "./retention.js";
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

export class PostgresStore implements Store {
  readonly backend = "postgres" as const;
  readonly capabilities = { multiProcess: true, crossProcessWakeups: true };
  readonly pool: pg.Pool;
  readonly schema: string | null;
  private readonly box: SecretBox;
  private readonly notifier: WorkNotifier;
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
      throw new HeraldError("HERALD_ERR_CONFIG", `HERALD_DATABASE_URL: cannot connect to PostgreSQL: ${(cause as Error).message}`, {
        cause,
        field: "HERALD_DATABASE_URL",
      });
    }
    return store;
  }

  constructor(options: PostgresStoreOptions) {
    if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
      throw new HeraldError("HERALD_ERR_CONFIG", `schema: ${JSON.stringify(options.schema)} must be lower-case letters, digits and _ (at most 40)`, {
        field: "schema",
      });
    }
    this.schema = options.schema ?? null;
    this.box = options.secretBox;
    const onError = options.onError ?? ((error: unknown, context: string) => console.error(`herald: postgres: ${context}:`, error));
    // Session settings travel as startup options of every connection: no extra query, and no
    // race with the first query the pool runs on a new connection.
    const settings = `${this.schema ? `-c search_path=${this.schema} ` : ""}-c idle_in_transaction_session_timeout=${IDLE_IN_TRANSACTION_TIMEOUT_MS}`;
    this.pool = new pg.Pool({ connectionString: options.connectionString, max: options.poolSize ?? DEFAULT_POOL_SIZE, options: settings });
    // An idle connection that breaks (server restart, network) emits here; without a listener it would crash the process.
    this.pool.on("error", (error) => onError(error, "idle connection lost"));
    const channel = this.schema ? `herald_work_${this.schema}` : "herald_work";
    this.notifier = new WorkNotifier(this.pool, { connectionString: options.connectionString }, channel, onError);
  }

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

  // ---- tenants and API keys

  async insertTenant(tenant: Tenant): Promise<boolean> {
    const result = await this.pool.query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING", [
      tenant.id, tenant.name, tenant.createdAt,
    ]);
    return result.rowCount === 1;
  }

  async getTenant(id: string): Promise<Tenant | null> {
    const { rows } = await this.pool.query<TenantRow>("SELECT * FROM tenants WHERE id = $1", [id]);
    return rows[0] ? rowToTenant(rows[0]) : null;
  }

  async listTenants(): Promise<Tenant[]> {
    const { rows } = await this.pool.query<TenantRow>("SELECT * FROM tenants ORDER BY created_at, id");
    return rows.map(rowToTenant);
  }

  async deleteTenant(id: string): Promise<boolean> {
    return withTransaction(this.pool, async (client) => {
      // Events and deliveries carry tenant_id without a foreign key (global webhooks span tenants).
      await client.query("DELETE FROM events WHERE tenant_id = $1", [id]);
      await client.query("DELETE FROM event_types WHERE tenant_id = $1", [id]);
      return (await client.query("DELETE FROM tenants WHERE id = $1", [id])).rowCount === 1;
    });
  }

  async insertApiKey(key: StoredApiKey): Promise<void> {
    await this.pool.query(
      "INSERT INTO api_keys (id, tenant_id, name, prefix, hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
      [key.id, key.tenantId, key.name, key.prefix, key.hash, key.createdAt, key.revokedAt],
    );
  }

  async findApiKeyByHash(hash: string): Promise<StoredApiKey | null> {
    const { rows } = await this.pool.query<ApiKeyRow>("SELECT * FROM api_keys WHERE hash = $1", [hash]);
    return rows[0] ? rowToApiKey(rows[0]) : null;
  }

  async getApiKey(id: string): Promise<StoredApiKey | null> {
    const { rows } = await this.pool.query<ApiKeyRow>("SELECT * FROM api_keys WHERE id = $1", [id]);
    return rows[0] ? rowToApiKey(rows[0]) : null;
  }

  async listApiKeys(tenantId: string) {
    const { rows } = await this.pool.query<ApiKeyRow>("SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id", [tenantId]);
    return rows.map((row) => {
      const { hash: _hash, ...key } = rowToApiKey(row);
      return key;
    });
  }

  async revokeApiKey(id: string, now: number): Promise<boolean> {
    const result = await this.pool.query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", [now, id]);
    return result.rowCount === 1;
  }

  // ---- webhooks

  async insertWebhook(webhook: Webhook): Promise<void> {
    const row = webhookToRow(webhook, this.box);
    const columns = Object.keys(row) as Array<keyof WebhookRow>;
    await this.pool.query(
      `INSERT INTO webhooks (${columns.join(", ")}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(", ")})`,
      columns.map((c) => row[c]),
    );
  }

  async updateWebhook(webhook: Webhook): Promise<boolean> {
    const row = webhookToRow(webhook, this.box);
    const columns = (Object.keys(row) as Array<keyof WebhookRow>).filter((c) => c !== "id" && c !== "created_at");
    const result = await this.pool.query(
      `UPDATE webhooks SET ${columns.map((c, i) => `${c} = $${i + 2}`).join(", ")} WHERE id = $1`,
      [row.id, ...columns.map((c) => row[c])],
    );
    if (webhook.status === "active") this.notifier.notify(); // a resumed webhook's backlog is due
    return result.rowCount === 1;
  }

  async getWebhook(id: string): Promise<Webhook | null> {
    const { rows } = await this.pool.query<WebhookRow>("SELECT * FROM webhooks WHERE id = $1", [id]);
    return rows[0] ? rowToWebhook(rows[0], this.box) : null;
  }

  listWebhooks(filter: WebhookFilter): Promise<Page<Webhook>> {
    return listWebhooks(this.pool, this.box, filter);
  }

  async deleteWebhook(id: string): Promise<boolean> {
    return (await this.pool.query("DELETE FROM webhooks WHERE id = $1", [id])).rowCount === 1;
  }

  async listSubscribers(tenantId: string) {
    const { rows } = await this.pool.query<{ id: string; events: string }>(
      "SELECT id, events FROM webhooks WHERE status = 'active' AND (tenant_id = $1 OR tenant_id IS NULL)",
      [tenantId],
    );
    return rows.map((row) => ({ id: row.id, events: JSON.parse(row.events) as string[] }));
  }

  async setWebhookStatus(id: string, status: WebhookStatus, reason: string | null, now: number): Promise<boolean> {
    const result = await this.pool.query("UPDATE webhooks SET status = $1, disabled_reason = $2, updated_at = $3 WHERE id = $4", [
      status, reason, now, id,
    ]);
    if (status === "active" && result.rowCount === 1) this.notifier.notify();
    return result.rowCount === 1;
  }

  // ---- ingest

  async ingest(request: IngestRequest): Promise<IngestResult> {
    const result = await withTransaction(this.pool, (client) => ingestOne(client, request));
    if (!result.duplicate && result.deliveryIds.length > 0) this.notifier.notify();
    return result;
  }

  async ingestMany(requests: IngestRequest[]): Promise<IngestResult[]> {
    if (requests.length === 0) return [];
    const results = await withTransaction(this.pool, async (client) => {
      const done: IngestResult[] = [];
      for (const request of requests) done.push(await ingestOne(client, request));
      return done;
    });
    if (results.some((r) => !r.duplicate && r.deliveryIds.length > 0)) this.notifier.notify();
    return results;
  }

  async getEvent(id: string): Promise<HeraldEvent | null> {
    const { rows } = await this.pool.query<EventRow>("SELECT * FROM events WHERE id = $1", [id]);
    return rows[0] ? rowToEvent(rows[0]) : null;
  }

  listEvents(filter: EventFilter): Promise<Page<HeraldEvent>> {
    return listEvents(this.pool, filter);
  }

  // ---- dispatch

  claimDueDeliveries(request: ClaimRequest): Promise<DueDelivery[]> {
    return claimDueDeliveries(this.pool, request);
  }

  recordAttempts(outcomes: AttemptOutcome[], owner: string): Promise<void> {
    return recordAttempts(this.pool, outcomes, owner);
  }

  async releaseLeases(filter: { expiredBefore?: number; owners?: string[] }, now: number): Promise<number> {
    const released = await releaseLeases(this.pool, filter, now);
    if (released > 0) this.notifier.notify();
    return released;
  }

  async listLeaseOwners(): Promise<string[]> {
    const { rows } = await this.pool.query<{ lease_owner: string }>(
      "SELECT DISTINCT lease_owner FROM deliveries WHERE state = 'in_flight' AND lease_owner IS NOT NULL",
    );
    return rows.map((r) => r.lease_owner);
  }

  async nextDueAt(after: number): Promise<number | null> {
    const { rows } = await this.pool.query<{ at: string | null }>(
      "SELECT MIN(next_attempt_at) AS at FROM deliveries WHERE state = 'pending' AND next_attempt_at > $1",
      [after],
    );
    const at = rows[0]?.at ?? null;
    return at === null ? null : Number(at);
  }

  async oldestDueAt(): Promise<number | null> {
    const { rows } = await this.pool.query<{ at: string }>(
      `SELECT d.next_attempt_at AS at FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id AND w.status = 'active'
        WHERE d.state = 'pending' ORDER BY d.next_attempt_at LIMIT 1`,
    );
    return rows[0] ? Number(rows[0].at) : null;
  }

  async getDelivery(id: string) {
    const { rows } = await this.pool.query<DeliveryRow>("SELECT * FROM deliveries WHERE id = $1", [id]);
    return rows[0] ? rowToDelivery(rows[0]) : null;
  }

  listDeliveries(filter: DeliveryFilter): Promise<Page<Delivery>> {
    return listDeliveries(this.pool, filter);
  }

  async listAttempts(deliveryId: string) {
    const { rows } = await this.pool.query<AttemptRow>("SELECT * FROM attempts WHERE delivery_id = $1 ORDER BY attempt_number, id", [deliveryId]);
    return rows.map(rowToAttempt);
  }

  async requeueDelivery(id: string, now: number): Promise<boolean> {
    const result = await this.pool.query(
      `UPDATE deliveries SET state = 'pending', next_attempt_at = $1, completed_at = NULL, updated_at = $1
        WHERE id = $2 AND state <> 'in_flight'`,
      [now, id],
    );
    if (result.rowCount === 1) this.notifier.notify();
    return result.rowCount === 1;
  }

  async countDeliveriesByState(): Promise<Record<DeliveryState, number>> {
    const counts: Record<DeliveryState, number> = { pending: 0, in_flight: 0, succeeded: 0, failed: 0, cancelled: 0 };
    const { rows } = await this.pool.query<{ state: DeliveryState; n: string }>("SELECT state, COUNT(*) AS n FROM deliveries GROUP BY state");
    for (const row of rows) counts[row.state] = Number(row.n);
    return counts;
  }

  async webhookStats(webhookId: string): Promise<WebhookStats> {
    const sql = webhookStatsSql("$1", "$2");
    const { rows } = await this.pool.query<StatsSummaryRow>(sql.summary, [webhookId]);
    const summary = rows[0];
    if (summary === undefined) throw new HeraldError("HERALD_ERR_INTERNAL", "webhook statistics query returned no row");
    const attempts = Number(summary.attempts);
    let p95: number | null = null;
    if (attempts > 0) {
      const percentile = await this.pool.query<{ duration_ms: number }>(sql.percentile, [webhookId, p95Offset(attempts)]);
      p95 = percentile.rows[0]?.duration_ms ?? null;
    }
    return toWebhookStats(summary, p95);
  }

  async webhookAttemptSeries(webhookId: string, query: AttemptSeriesQuery) {
    const sql = attemptSeriesSql({ id: "$1", since: "$2", until: "$3", bucket: "$4" });
    const { rows } = await this.pool.query<AttemptSeriesRow>(sql, [
      webhookId, Math.floor(query.since), Math.floor(query.until), Math.max(1, Math.floor(query.bucketMs)),
    ]);
    return toAttemptSeries(rows, query);
  }

  async markWebhookFailing(id: string, now: number): Promise<number | null> {
    const { rows } = await this.pool.query<{ failing_since: string }>(
      "UPDATE webhooks SET failing_since = COALESCE(failing_since, $1) WHERE id = $2 RETURNING failing_since",
      [now, id],
    );
    return rows[0] ? Number(rows[0].failing_since) : null;
  }

  async clearWebhookFailing(id: string): Promise<void> {
    await this.pool.query("UPDATE webhooks SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL", [id]);
  }

  // ---- recovery and retention

  insertRecoveryJob(job: RecoveryJob): Promise<void> {
    return insertRecoveryJob(this.pool, job);
  }

  getRecoveryJob(id: string): Promise<RecoveryJob | null> {
    return getRecoveryJob(this.pool, id);
  }

  listRunningRecoveryJobs(): Promise<RecoveryJob[]> {
    return listRunningRecoveryJobs(this.pool);
  }

  async advanceRecoveryJob(id: string, batchSize: number, now: number): Promise<RecoveryJob | null> {
    const { job, requeued } = await advanceRecoveryJob(this.pool, id, batchSize, now);
    if (requeued > 0) this.notifier.notify();
    return job;
  }

  deleteFinishedBefore(cutoff: number, limit: number): Promise<number> {
    return deleteFinishedBefore(this.pool, cutoff, limit);
  }

  // ---- event types

  async upsertEventType(eventType: EventType): Promise<void> {
    await this.pool.query(
      `INSERT INTO event_types (tenant_id, name, description, schema, created_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (tenant_id, name) DO UPDATE SET description = EXCLUDED.description, schema = EXCLUDED.schema`,
      [eventType.tenantId, eventType.name, eventType.description, eventType.schema === null ? null : JSON.stringify(eventType.schema), eventType.createdAt],
    );
  }

  async getEventType(tenantId: string, name: string): Promise<EventType | null> {
    const { rows } = await this.pool.query<EventTypeRow>("SELECT * FROM event_types WHERE tenant_id = $1 AND name = $2", [tenantId, name]);
    return rows[0] ? rowToEventType(rows[0]) : null;
  }

  async listEventTypes(tenantId: string): Promise<EventType[]> {
    const { rows } = await this.pool.query<EventTypeRow>("SELECT * FROM event_types WHERE tenant_id = $1 ORDER BY name", [tenantId]);
    return rows.map(rowToEventType);
  }
}
