/**
 * The store boundary: everything Herald keeps goes through this one interface, and every
 * backend (embedded SQLite, PostgreSQL) implements it unchanged and passes the same
 * conformance suite (test/store-conformance). Backend differences are the capability flags
 * below, not `if (postgres)` scattered through the engine.
 */
import type {
  ApiKey, Attempt, Delivery, DeliveryState, EventType, HeraldEvent, Page, RecoveryJob, Tenant, Webhook, WebhookStats,
  WebhookStatus,
} from "../domain/types.js";
import type { HeraldError } from "../errors.js";
import type { AttemptSeriesBucket, AttemptSeriesQuery } from "./stats-series.js";

export interface StoreCapabilities {
  /** Several processes may claim from this store at once (PostgreSQL's FOR UPDATE SKIP LOCKED). */
  multiProcess: boolean;
  /** The store can wake idle workers in other processes when work arrives (LISTEN/NOTIFY). */
  crossProcessWakeups: boolean;
}

export interface NewDelivery {
  id: string;
  webhookId: string;
}

export interface IngestRequest {
  event: HeraldEvent;
  deliveries: NewDelivery[];
  idempotencyKey: string | null;
  /** An earlier event with the same id or key inside this window is returned instead of a new one. */
  idempotencyWindowMs: number;
  /** The event's data and metadata as JSON, when already serialised (ingest measures their size). */
  serialized?: { data: string; metadata: string | null };
  /** The trace context the event was accepted in (src/tracing), stored with it; absent when tracing is off. */
  traceContext?: string | null;
}

export interface IngestResult {
  event: HeraldEvent;
  deliveryIds: string[];
  /** True when the event was already accepted (same id or Idempotency-Key) and nothing new was written. */
  duplicate: boolean;
}

/** A claimed delivery with what dispatch needs to build its request. */
export interface DueDelivery {
  id: string;
  webhookId: string;
  tenantId: string;
  attemptCount: number;
  createdAt: number;
  /** When it came due (next_attempt_at when claimed): how late it is while it waits for a slot. */
  dueAt: number;
  event: { id: string; type: string; data: string; metadata: string | null; createdAt: number; traceContext?: string | null };
}

export interface ClaimRequest {
  now: number;
  limit: number;
  owner: string;
  /** Webhooks with no free slot in this process: their deliveries are not even read. */
  saturatedWebhookIds: string[];
  /** Requests in flight to this webhook in the claiming process; the claim tops it up to the webhook's maxConcurrency. */
  inFlight(webhookId: string): number;
  /**
   * The most deliveries of a webhook this process may hold leased when no other process holds
   * any: its in-flight requests plus those waiting in memory for a slot. Without it, or while
   * another process holds some of the webhook's deliveries, the webhook's maxConcurrency.
   */
  capacity?(webhookId: string, maxConcurrency: number): number;
  /** A lease lasts this many of the webhook's request timeouts (default 1) plus leaseMarginMs. */
  leaseTimeouts?: number;
  /** A lease lasts the webhook's request timeout plus this margin. */
  leaseMarginMs: number;
}

/** Which in-flight deliveries releaseLeases makes due again. */
export interface LeaseFilter {
  /** Those whose lease expired before this time. */
  expiredBefore?: number;
  /** Those held by these (dead) workers. */
  owners?: string[];
  /** These deliveries, if `owner` holds them: work a live worker claimed and gives back unsent. */
  held?: { owner: string; ids: string[] };
}

export interface AttemptOutcome {
  attempt: Attempt;
  state: Extract<DeliveryState, "succeeded" | "failed" | "pending">;
  nextAttemptAt: number | null;
}

export interface WebhookFilter {
  /** undefined: every tenant's and the global webhooks; null: only global ones. */
  tenantId?: string | null;
  /** With tenantId: also include global webhooks. */
  includeGlobal?: boolean;
  status?: WebhookStatus;
  /** Webhooks whose subscription matches this event type. */
  event?: string;
  kind?: Webhook["kind"];
  limit?: number;
  cursor?: string;
}

/** What ingest needs to know of a webhook to fan an event out to it; `filter` is its payload filter's JSON text (compiled by text, payloadFilterTester). */
export type Subscriber = Pick<Webhook, "id" | "events" | "tenantId"> & { channels: string[] | null; filter: string | null };

export interface EventFilter {
  tenantId?: string;
  type?: string;
  /** Any of these types. */
  types?: string[];
  since?: number;
  /** Created before this time. */
  until?: number;
  limit?: number;
  cursor?: string;
}

export interface EventAttemptFilter {
  webhookId?: string;
  eventId?: string;
  /** The delivered event's tenant. */
  tenantId?: string;
  eventTypes?: string[];
  /** true: 2xx answers only; false: the rest. */
  success?: boolean;
  /** Started at or after / before these times. */
  since?: number;
  until?: number;
  limit?: number;
  cursor?: string;
}

/** An attempt with the event its delivery carries. */
export type EventAttempt = Attempt & { eventId: string; eventType: string };

export interface DeliveryFilter {
  tenantId?: string;
  /** Only deliveries to this tenant's own webhooks (not to global ones): what a tenant may see. */
  webhookTenantId?: string;
  webhookId?: string;
  eventId?: string;
  /** Exact event type of the delivered event. */
  eventType?: string;
  state?: DeliveryState;
  since?: number;
  until?: number;
  limit?: number;
  cursor?: string;
}

export interface StoredApiKey extends ApiKey {
  hash: string;
}

export interface Store {
  readonly backend: "sqlite" | "postgres";
  readonly capabilities: StoreCapabilities;
  migrate(): Promise<void>;
  close(): Promise<void>;
  /**
   * Present when `capabilities.crossProcessWakeups`: calls `listener` whenever deliveries may
   * have become due in any process sharing the store (an ingest committed, a lease released, a
   * delivery requeued, a webhook resumed), and once when listening starts or resumes after a
   * lost connection, since work may have arrived unheard. Coalesced and best-effort: a wake-up
   * means "claim now", never "this much work"; polling remains the fallback. Returns unsubscribe.
   */
  onWorkAvailable?(listener: () => void): () => void;
  /**
   * Why the store cannot write now (HERALD_ERR_STORE_UNAVAILABLE naming the cause and the fix),
   * or null. A call that fails on a full disk, a read-only database or a lost connection fails
   * with that error and leaves it here until a probe write this makes succeeds; a SQLite file
   * deleted or replaced under Herald shows here (and refuses writes) from the check that finds
   * it. Cheap when all is well (SQLite: a stat of its files; PostgreSQL: nothing), so the engine
   * asks every second and /ready on every request. Optional for stores Herald did not make.
   */
  checkWritable?(): Promise<HeraldError | null>;

  insertTenant(tenant: Tenant): Promise<boolean>;
  updateTenant(tenant: Tenant): Promise<boolean>;
  getTenant(id: string): Promise<Tenant | null>;
  getTenantByUid(uid: string): Promise<Tenant | null>;
  listTenants(): Promise<Tenant[]>;
  deleteTenant(id: string): Promise<boolean>;

  insertApiKey(key: StoredApiKey): Promise<void>;
  findApiKeyByHash(hash: string): Promise<StoredApiKey | null>;
  getApiKey(id: string): Promise<StoredApiKey | null>;
  listApiKeys(tenantId: string): Promise<ApiKey[]>;
  revokeApiKey(id: string, now: number): Promise<boolean>;
  /** Portal links of the tenant made at or before `before` stop opening anything; a later call moves the time on. */
  revokePortalLinks(tenantId: string, before: number): Promise<void>;
  /** null: no such tenant; else when its portal links were last revoked (null: never). */
  portalLinkState(tenantId: string): Promise<{ revokedBefore: number | null; createdAt: number } | null>;

  insertWebhook(webhook: Webhook): Promise<void>;
  updateWebhook(webhook: Webhook): Promise<boolean>;
  getWebhook(id: string): Promise<Webhook | null>;
  getWebhookByUid(tenantId: string, uid: string): Promise<Webhook | null>;
  listWebhooks(filter: WebhookFilter): Promise<Page<Webhook>>;
  deleteWebhook(id: string): Promise<boolean>;
  /** Active webhooks receiving this tenant's events: its own and the global ones (tenantId null). */
  listSubscribers(tenantId: string): Promise<Subscriber[]>;

  /** Writes the event and all its deliveries in one transaction; resolves after commit. */
  ingest(request: IngestRequest): Promise<IngestResult>;
  /** Several ingests in one transaction (batch API, group commit). */
  ingestMany(requests: IngestRequest[]): Promise<IngestResult[]>;
  getEvent(id: string): Promise<HeraldEvent | null>;
  listEvents(filter: EventFilter): Promise<Page<HeraldEvent>>;

  claimDueDeliveries(request: ClaimRequest): Promise<DueDelivery[]>;
  /** Records attempts and moves their deliveries on, in one transaction. */
  recordAttempts(outcomes: AttemptOutcome[], owner: string): Promise<void>;
  /** Makes in-flight deliveries due again: those whose lease expired before `expiredBefore`, or held by `owners`. */
  releaseLeases(filter: LeaseFilter, now: number): Promise<number>;
  listLeaseOwners(): Promise<string[]>;
  /** The earliest next_attempt_at after `after` among pending deliveries, or null when none is due later. */
  nextDueAt(after: number): Promise<number | null>;
  /** The earliest due time among pending deliveries of active webhooks: how far behind delivery runs. */
  oldestDueAt(): Promise<number | null>;
  getDelivery(id: string): Promise<Delivery | null>;
  listDeliveries(filter: DeliveryFilter): Promise<Page<Delivery>>;
  listAttempts(deliveryId: string): Promise<Attempt[]>;
  listEventAttempts(filter: EventAttemptFilter): Promise<Page<EventAttempt>>;
  /** Makes a delivery due now, whatever its state but in_flight; resets nothing of its history. */
  requeueDelivery(id: string, now: number): Promise<boolean>;
  /** Makes a webhook's failed deliveries created at or after `since` due again now (`/recover`); returns how many. */
  /** Deliveries per state: every webhook's, or one webhook's. */
  countDeliveriesByState(webhookId?: string): Promise<Record<DeliveryState, number>>;
  webhookStats(webhookId: string): Promise<WebhookStats>;
  /** Attempts per time bucket with their success count and p50/p95 duration (the dashboard's charts); SQL in stats-series.ts. */
  webhookAttemptSeries(webhookId: string, query: AttemptSeriesQuery): Promise<AttemptSeriesBucket[]>;
  setWebhookStatus(id: string, status: WebhookStatus, reason: string | null, now: number): Promise<boolean>;

  /** Marks the webhook failing (if not already) and returns since when it has been failing. */
  markWebhookFailing(id: string, now: number): Promise<number | null>;
  /** A success: the webhook is healthy again. */
  clearWebhookFailing(id: string): Promise<void>;

  insertRecoveryJob(job: RecoveryJob): Promise<void>;
  getRecoveryJob(id: string): Promise<RecoveryJob | null>;
  listRunningRecoveryJobs(): Promise<RecoveryJob[]>;
  /**
   * Re-queues up to `batchSize` of the job's failed deliveries after its cursor and advances
   * the cursor, in one transaction; marks the job done when nothing is left.
   */
  advanceRecoveryJob(id: string, batchSize: number, now: number): Promise<RecoveryJob | null>;

  /** Retention: deletes up to `limit` finished deliveries (and their attempts) completed before `cutoff`, then events left without deliveries. */
  deleteFinishedBefore(cutoff: number, limit: number): Promise<number>;

  upsertEventType(eventType: EventType): Promise<void>;
  /** The tenant's own event type of that name, else the one kept for every tenant (ALL_TENANTS), else null. */
  getEventType(tenantId: string, name: string): Promise<EventType | null>;
  /** The tenant's event types and those kept for every tenant (ALL_TENANTS), by name. */
  listEventTypes(tenantId: string): Promise<EventType[]>;
  /** Deletes the event type kept under exactly this tenant id; false when there was none. */
  deleteEventType(tenantId: string, name: string): Promise<boolean>;
}
