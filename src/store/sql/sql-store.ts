/**
 * The `Store` methods both SQL backends share, each a call into this folder's query modules
 * through the backend's runner. SqliteStore and PostgresStore extend this and add what differs
 * between them: claims, ingest, attempt batching, lease release, wake-ups, migrations and
 * connections. PostgresStore also wraps the few writes that make work due, to send a wake-up.
 */
import type { DeliveryState, EventType, RecoveryJob, Tenant, Webhook, WebhookStatus } from "../../domain/types.js";
import { type HeraldError, isHeraldError } from "../../errors.js";
import type { SecretBox } from "../../secrets/secret-box.js";
import type { AttemptSeriesQuery } from "../stats-series.js";
import type { StoreFaults } from "../store-faults.js";
import type {
  AttemptOutcome, ClaimRequest, DeliveryFilter, DueDelivery, EventAttemptFilter, EventFilter, IngestRequest, IngestResult, LeaseFilter, Store,
  StoreCapabilities, StoredApiKey, Subscriber, WebhookFilter,
} from "../store.js";
import { webhookAttemptSeries } from "./attempt-series.js";
import * as deliveries from "./deliveries.js";
import * as eventTypes from "./event-types.js";
import * as events from "./events.js";
import * as recovery from "./recovery.js";
import { deleteFinishedBefore } from "./retention.js";
import { KeptReads } from "./ingest-reads.js";
import type { SqlRunner } from "./runner.js";
import * as tenants from "./tenants.js";
import { webhookStats } from "./webhook-stats.js";
import * as webhooks from "./webhooks.js";

/** The probe row's text: 16 KiB, four SQLite pages, so the probe needs room as an event with a payload does. */
const PROBE_TEXT = " ".repeat(16_384);

export abstract class SqlStore implements Store {
  abstract readonly backend: Store["backend"];
  abstract readonly capabilities: StoreCapabilities;

  constructor(
    protected readonly sql: SqlRunner,
    protected readonly box: SecretBox,
    /** The faults `sql` maps its errors through (../store-faults.ts). */
    protected readonly faults: StoreFaults,
  ) {}

  /** Kept only where the backend can tell that another connection wrote (keptReadsStale): ./ingest-reads.ts. */
  private readonly subscribers = new KeptReads<Subscriber[]>();
  private readonly eventTypes = new KeptReads<EventType | null>();

  /** A write that may change subscribers or event types: forgotten before it runs, and the reads racing it are not kept. */
  private changing<T>(write: () => Promise<T>, what: { subscribers?: true; eventTypes?: true }): Promise<T> {
    const forget = () => {
      if (what.subscribers) this.subscribers.forget();
      if (what.eventTypes) this.eventTypes.forget();
      this.announceChange();
    };
    forget();
    // Again after: a read that began while the write ran saw the old rows and must not stay.
    return write().finally(forget);
  }

  /**
   * Whether someone else may have changed what is kept since the last call (another store on
   * the same database); null: the backend cannot tell cheaply, and nothing is kept (PostgreSQL,
   * where other processes write all the time).
   */
  protected keptReadsStale(): boolean | null {
    return null;
  }

  /** This store changed webhooks, event types or tenants: other stores on the same database learn of it (SqliteStore). */
  protected announceChange(): void {}

  private keepingReads(): boolean {
    const stale = this.keptReadsStale();
    if (stale === null) return false;
    if (stale) {
      this.subscribers.forget();
      this.eventTypes.forget();
    }
    return true;
  }

  abstract migrate(): Promise<void>;
  abstract close(): Promise<void>;
  abstract ingest(request: IngestRequest): Promise<IngestResult>;
  abstract ingestMany(requests: IngestRequest[]): Promise<IngestResult[]>;
  abstract claimDueDeliveries(request: ClaimRequest): Promise<DueDelivery[]>;
  abstract recordAttempts(outcomes: AttemptOutcome[], owner: string): Promise<void>;
  abstract releaseLeases(filter: LeaseFilter, now: number): Promise<number>;

  /**
   * Nothing to do while no call has met a fault. After one, a probe write: a row in
   * herald_migrations, large enough to need pages of its own, inserted and deleted in one
   * transaction, so no reader ever sees it. It fails as a real write would (a full disk, a
   * read-only database, no connection), and once it commits the fault is over.
   */
  async checkWritable(): Promise<HeraldError | null> {
    if (this.faults.current === null || this.faults.holding) return this.faults.current;
    try {
      await this.sql.transaction(async (tx) => {
        await tx.run("INSERT INTO herald_migrations (version, name, applied_at) VALUES (-1, $1, 0)", [PROBE_TEXT]);
        await tx.run("DELETE FROM herald_migrations WHERE version = -1");
      });
      this.faults.clear();
    } catch (error) {
      // A store fault is the current one now (the runner recorded it); anything else is no fault of the store's.
      if (!isHeraldError(error) || error.code !== "HERALD_ERR_STORE_UNAVAILABLE") throw error;
    }
    return this.faults.current;
  }

  // ---- tenants and API keys

  insertTenant(tenant: Tenant) {
    return tenants.insertTenant(this.sql, tenant);
  }

  updateTenant(tenant: Tenant) {
    return tenants.updateTenant(this.sql, tenant);
  }

  getTenant(id: string) {
    return tenants.getTenant(this.sql, id);
  }

  getTenantByUid(uid: string) {
    return tenants.getTenantByUid(this.sql, uid);
  }

  listTenants() {
    return tenants.listTenants(this.sql);
  }

  deleteTenant(id: string) {
    return this.changing(() => tenants.deleteTenant(this.sql, id), { subscribers: true, eventTypes: true });
  }

  insertApiKey(key: StoredApiKey) {
    return tenants.insertApiKey(this.sql, key);
  }

  findApiKeyByHash(hash: string) {
    return tenants.findApiKeyByHash(this.sql, hash);
  }

  getApiKey(id: string) {
    return tenants.getApiKey(this.sql, id);
  }

  listApiKeys(tenantId: string) {
    return tenants.listApiKeys(this.sql, tenantId);
  }

  revokeApiKey(id: string, now: number) {
    return tenants.revokeApiKey(this.sql, id, now);
  }

  revokePortalLinks(tenantId: string, before: number) {
    return tenants.revokePortalLinks(this.sql, tenantId, before);
  }

  portalLinkState(tenantId: string) {
    return tenants.portalLinkState(this.sql, tenantId);
  }

  // ---- webhooks

  insertWebhook(webhook: Webhook) {
    return this.changing(() => webhooks.insertWebhook(this.sql, this.box, webhook), { subscribers: true });
  }

  updateWebhook(webhook: Webhook) {
    return this.changing(() => webhooks.updateWebhook(this.sql, this.box, webhook), { subscribers: true });
  }

  getWebhook(id: string) {
    return webhooks.getWebhook(this.sql, this.box, id);
  }

  getWebhookByUid(tenantId: string, uid: string) {
    return webhooks.getWebhookByUid(this.sql, this.box, tenantId, uid);
  }

  listWebhooks(filter: WebhookFilter) {
    return webhooks.listWebhooks(this.sql, this.box, filter);
  }

  deleteWebhook(id: string) {
    return this.changing(() => webhooks.deleteWebhook(this.sql, id), { subscribers: true });
  }

  listSubscribers(tenantId: string) {
    if (!this.keepingReads()) return webhooks.listSubscribers(this.sql, tenantId);
    return this.subscribers.read(tenantId, () => webhooks.listSubscribers(this.sql, tenantId));
  }

  setWebhookStatus(id: string, status: WebhookStatus, reason: string | null, now: number) {
    return this.changing(() => webhooks.setWebhookStatus(this.sql, id, status, reason, now), { subscribers: true });
  }

  markWebhookFailing(id: string, now: number) {
    return webhooks.markWebhookFailing(this.sql, id, now);
  }

  clearWebhookFailing(id: string) {
    return webhooks.clearWebhookFailing(this.sql, id);
  }

  webhookStats(webhookId: string) {
    return webhookStats(this.sql, webhookId);
  }

  webhookAttemptSeries(webhookId: string, query: AttemptSeriesQuery) {
    return webhookAttemptSeries(this.sql, webhookId, query);
  }

  // ---- events

  getEvent(id: string) {
    return events.getEvent(this.sql, id);
  }

  listEvents(filter: EventFilter) {
    return events.listEvents(this.sql, filter);
  }

  // ---- deliveries and attempts

  listLeaseOwners() {
    return deliveries.listLeaseOwners(this.sql);
  }

  nextDueAt(after: number) {
    return deliveries.nextDueAt(this.sql, after);
  }

  oldestDueAt() {
    return deliveries.oldestDueAt(this.sql);
  }

  getDelivery(id: string) {
    return deliveries.getDelivery(this.sql, id);
  }

  listDeliveries(filter: DeliveryFilter) {
    return deliveries.listDeliveries(this.sql, filter);
  }

  listAttempts(deliveryId: string) {
    return deliveries.listAttempts(this.sql, deliveryId);
  }

  listEventAttempts(filter: EventAttemptFilter) {
    return deliveries.listEventAttempts(this.sql, filter);
  }

  requeueDelivery(id: string, now: number) {
    return deliveries.requeueDelivery(this.sql, id, now);
  }

  countDeliveriesByState(webhookId?: string): Promise<Record<DeliveryState, number>> {
    return deliveries.countDeliveriesByState(this.sql, webhookId);
  }

  // ---- recovery and retention

  insertRecoveryJob(job: RecoveryJob) {
    return recovery.insertRecoveryJob(this.sql, job);
  }

  getRecoveryJob(id: string) {
    return recovery.getRecoveryJob(this.sql, id);
  }

  listRunningRecoveryJobs() {
    return recovery.listRunningRecoveryJobs(this.sql);
  }

  async advanceRecoveryJob(id: string, batchSize: number, now: number): Promise<RecoveryJob | null> {
    return (await recovery.advanceRecoveryJob(this.sql, id, batchSize, now)).job;
  }

  deleteFinishedBefore(cutoff: number, limit: number) {
    return deleteFinishedBefore(this.sql, cutoff, limit);
  }

  // ---- event types

  upsertEventType(eventType: EventType) {
    return this.changing(() => eventTypes.upsertEventType(this.sql, eventType), { eventTypes: true });
  }

  getEventType(tenantId: string, name: string) {
    if (!this.keepingReads()) return eventTypes.getEventType(this.sql, tenantId, name);
    // Length-prefixed: no tenant id and name can spell another pair's key (ids may hold any storable text).
    return this.eventTypes.read(`${tenantId.length}:${tenantId}:${name}`, () => eventTypes.getEventType(this.sql, tenantId, name));
  }

  listEventTypes(tenantId: string) {
    return eventTypes.listEventTypes(this.sql, tenantId);
  }

  deleteEventType(tenantId: string, name: string) {
    return this.changing(() => eventTypes.deleteEventType(this.sql, tenantId, name), { eventTypes: true });
  }
}
