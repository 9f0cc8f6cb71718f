/**
 * The engine in-process (SPEC section 8): `createHerald()` opens the store, and the returned
 * object triggers events, manages webhooks, answers queries and runs the delivery worker.
 * The HTTP API and the CLI are thin layers over this object.
 */
import { join } from "node:path";
import { SYSTEM_EVENT_TYPES } from "./domain/event-patterns.js";
import { uuidv7 } from "./domain/ids.js";
import { IDENTUS_RETRY_POLICY, IDENTUS_TIMEOUT_MS } from "./domain/retry-policy.js";
import {
  DEFAULT_TENANT_ID, type Attempt, type Delivery, type DeliveryState, type HeraldEvent, type Page, type RecoveryJob, type Tenant,
  type Webhook, type WebhookStats, type WebhookStatus,
} from "./domain/types.js";
import { applyWebhookPatch, buildWebhook, type WebhookInput, type WebhookPatch } from "./domain/webhook-input.js";
import { readOrCreateSecretFile } from "./config/secret-files.js";
import { Dispatcher, type DispatchOptions } from "./dispatch/dispatcher.js";
import { makeSender, type Sender, type SenderOptions } from "./dispatch/send-request.js";
import { WebhookCache } from "./dispatch/webhook-cache.js";
import { HeraldError } from "./errors.js";
import { DEFAULT_HEALTH_OPTIONS, HealthMonitor, type HealthOptions } from "./maintenance/health-monitor.js";
import { RecoveryRunner } from "./maintenance/recovery-runner.js";
import { startRetention, type RetentionOptions } from "./maintenance/retention.js";
import { GroupCommit } from "./ingest/group-commit.js";
import { DEFAULT_INGEST_LIMITS, ingestEvent, ingestEvents, prepareIngest, type EventInput, type IngestLimits } from "./ingest/ingest-event.js";
import { generateMasterKey, makeSecretBox, parseMasterKey } from "./secrets/secret-box.js";
import { checkTargetUrl, guardedConnector, type TargetPolicy } from "./security/target-guard.js";
import { generateSigningSecret } from "./signing/standard-webhooks.js";
import { DEFAULT_DATABASE_URL, openStore, parseDatabaseUrl } from "./store/open-store.js";
import type { DeliveryFilter, DueDelivery, EventFilter, IngestResult, Store } from "./store/store.js";

export interface HeraldOptions {
  /** `sqlite:<path>` (default `sqlite:./data/herald.db`), `sqlite::memory:`, or `postgres://...`. */
  database?: string;
  /** An already-open store (tests, embedding); `database` is then ignored. */
  store?: Store;
  /** The master key sealing stored secrets: 32 bytes, hex or base64. Default: `<data folder>/secret.key`, made on first start. */
  secretKey?: string;
  /** The tenant used when a call names none. */
  defaultTenantId?: string;
  /** Create the default tenant at start (SPEC `DEFAULT_WALLET_ENABLED`). */
  createDefaultTenant?: boolean;
  /** Let webhooks reach loopback, private and link-local addresses (SPEC `HERALD_ALLOW_PRIVATE_TARGETS`). Default false. */
  allowPrivateTargets?: boolean;
  /** Refuse webhook URLs that are not https. Default false. */
  httpsOnly?: boolean;
  dispatch?: Partial<DispatchOptions>;
  sender?: Omit<SenderOptions, "connect">;
  limits?: Partial<IngestLimits>;
  /** How long a rotated-out signing secret keeps signing. Default 24 h. */
  secretRotationGraceMs?: number;
  /** Delivery-record retention (SPEC `HERALD_RETENTION_DAYS`, `HERALD_CLEANUP_INTERVAL_MS`); false to keep everything. */
  retention?: RetentionOptions | false;
  /** When `system.health.degraded` / `restored` are announced; false to never check. */
  health?: Partial<HealthOptions> | false;
  /** Called for errors inside the background worker (default: printed to stderr). */
  onError?(error: unknown, context: string): void;
  /** Called after each attempt is made (metrics, live views); the attempt is committed shortly after. */
  onAttempt?(attempt: Attempt, delivery: DueDelivery): void;
  /** Called after each event is accepted and committed. */
  onEventAccepted?(event: HeraldEvent, deliveryCount: number): void;
}

export interface Scope {
  /** undefined: the default tenant; null: global (admin only); a tenant id: that tenant only. */
  tenantId?: string | null;
}

export interface TriggerOptions extends Scope {
  id?: string;
  idempotencyKey?: string;
}

export interface TriggerResult {
  event: HeraldEvent;
  deliveries: string[];
  duplicate: boolean;
}

export interface WebhookCreateOptions extends Scope {
  kind?: Webhook["kind"];
}

export interface WebhookListOptions extends Scope {
  status?: WebhookStatus;
  event?: string;
  kind?: Webhook["kind"];
  limit?: number;
  cursor?: string;
  /** With a tenant scope: list the global webhooks too. */
  includeGlobal?: boolean;
  /** List every tenant's webhooks (admin). */
  allTenants?: boolean;
}

export { SYSTEM_EVENT_TYPES };
export type SystemEventType = (typeof SYSTEM_EVENT_TYPES)[number];

export interface Herald {
  readonly store: Store;
  readonly defaultTenantId: string;
  trigger(type: string, data: unknown, metadata?: Record<string, unknown> | null, options?: TriggerOptions): Promise<TriggerResult>;
  triggerMany(events: EventInput[], options?: Scope): Promise<TriggerResult[]>;
  /** Emits one of Herald's own events; failures are reported through onError, never thrown. */
  emitSystemEvent(type: SystemEventType, data: Record<string, unknown>, tenantId?: string): void;
  webhooks: {
    create(input: WebhookInput, options?: WebhookCreateOptions): Promise<Webhook>;
    get(id: string, scope?: Scope): Promise<Webhook>;
    list(options?: WebhookListOptions): Promise<Page<Webhook>>;
    update(id: string, patch: WebhookPatch, scope?: Scope): Promise<Webhook>;
    delete(id: string, scope?: Scope): Promise<void>;
    pause(id: string, scope?: Scope): Promise<Webhook>;
    resume(id: string, scope?: Scope): Promise<Webhook>;
    /** A new signing secret; the old one keeps signing alongside it for the grace period. */
    rotateSecret(id: string, scope?: Scope & { graceMs?: number }): Promise<{ webhook: Webhook; secret: string }>;
    /** Re-queues the webhook's failed deliveries created since `since`, durably, in batches. */
    recover(id: string, since: number, scope?: Scope): Promise<RecoveryJob>;
    recovery(jobId: string, scope?: Scope): Promise<RecoveryJob>;
    stats(id: string, scope?: Scope): Promise<WebhookStats>;
  };
  events: {
    get(id: string, scope?: Scope): Promise<HeraldEvent>;
    list(filter?: Omit<EventFilter, "tenantId"> & Scope & { allTenants?: boolean }): Promise<Page<HeraldEvent>>;
  };
  deliveries: {
    get(id: string, scope?: Scope): Promise<Delivery & { attempts: Attempt[] }>;
    list(filter?: Omit<DeliveryFilter, "tenantId"> & Scope & { allTenants?: boolean }): Promise<Page<Delivery>>;
    attempts(id: string, scope?: Scope): Promise<Attempt[]>;
    /** Makes a finished delivery due again now (manual retry). */
    retry(id: string, scope?: Scope): Promise<Delivery>;
    countByState(): Promise<Record<DeliveryState, number>>;
  };
  tenants: {
    create(input: { id?: string; name: string }): Promise<Tenant>;
    get(id: string): Promise<Tenant>;
    list(): Promise<Tenant[]>;
    delete(id: string): Promise<void>;
  };
  /** Starts the delivery worker. */
  start(): Promise<void>;
  /** Stops claiming, drains in-flight deliveries and records them; the rest stay due for the next start. */
  stop(): Promise<void>;
  /** stop(), then closes the store and HTTP connections. */
  close(): Promise<void>;
  readonly running: boolean;
  readonly dispatcher: Dispatcher;
}

function resolveTenant(scope: Scope | undefined, fallback: string): string | null {
  return scope?.tenantId === undefined ? fallback : scope.tenantId;
}

export async function createHerald(options: HeraldOptions = {}): Promise<Herald> {
  let store = options.store;
  if (!store) {
    const url = parseDatabaseUrl(options.database ?? DEFAULT_DATABASE_URL);
    const keyText =
      options.secretKey ??
      (url.dataDir === null ? generateMasterKey() : readOrCreateSecretFile(join(url.dataDir, "secret.key"), generateMasterKey).value);
    store = await openStore(url, makeSecretBox(parseMasterKey(keyText, options.secretKey ? "HERALD_SECRET_KEY" : "secret.key")));
  }
  const defaultTenantId = options.defaultTenantId ?? DEFAULT_TENANT_ID;
  if (options.createDefaultTenant ?? true) {
    await store.insertTenant({ id: defaultTenantId, name: "default", createdAt: Date.now() });
  }
  const limits: IngestLimits = { ...DEFAULT_INGEST_LIMITS, ...options.limits };
  const graceMs = options.secretRotationGraceMs ?? 24 * 3_600_000;
  const reportError = options.onError ?? ((error: unknown, context: string) => console.error(`herald: ${context}:`, error));
  const onError = (error: unknown, context: string) => {
    health?.recordWorkerError();
    reportError(error, context);
  };
  const targetPolicy: TargetPolicy = { allowPrivateTargets: options.allowPrivateTargets ?? false, httpsOnly: options.httpsOnly ?? false };
  const connect = guardedConnector(targetPolicy);
  const sender: Sender = makeSender({ ...options.sender, ...(connect ? { connect } : {}) });
  const cache = new WebhookCache(store);
  const groupCommit = new GroupCommit(store);
  const s = store;

  const emitSystemEvent: Herald["emitSystemEvent"] = (type, data, tenantId = defaultTenantId) => {
    ingestEvent(s, tenantId, { type, data }, limits)
      .then((result) => result.deliveryIds.length > 0 && dispatcher.wake())
      .catch((error: unknown) => onError(error, `emitting ${type}`));
  };

  const recovery = new RecoveryRunner(store, () => dispatcher.wake(), onError);
  const health =
    options.health === false
      ? null
      : new HealthMonitor(store, { ...DEFAULT_HEALTH_OPTIONS, ...options.health }, (a) => emitSystemEvent(a.type, a.data), reportError);
  let stopRetention: (() => void) | null = null;
  const dispatcher = new Dispatcher(store, sender, cache, options.dispatch, {
    onError,
    ...(options.onAttempt ? { onAttempt: options.onAttempt } : {}),
    onWebhookDisabled(webhook, reason) {
      emitSystemEvent("webhook.disabled", { webhook_id: webhook.id, url: webhook.url, reason }, webhook.tenantId ?? defaultTenantId);
    },
    onExhausted(delivery, webhook, attempt) {
      // Herald's own exhaustion notices are not announced again: that could loop forever.
      if (delivery.event.type === "delivery.exhausted") return;
      emitSystemEvent(
        "delivery.exhausted",
        {
          delivery_id: delivery.id, webhook_id: webhook.id, event_id: delivery.event.id, event_type: delivery.event.type,
          attempts: attempt.attemptNumber, last_status: attempt.response?.status ?? null, last_error: attempt.errorMessage,
        },
        delivery.tenantId,
      );
    },
  });

  async function findWebhook(id: string, scope?: Scope): Promise<Webhook> {
    const webhook = await s.getWebhook(id);
    const tenant = scope?.tenantId;
    // A tenant sees only its own webhooks; another tenant's id answers exactly as an unknown one.
    if (!webhook || (tenant !== undefined && webhook.tenantId !== tenant)) {
      throw new HeraldError("HERALD_ERR_WEBHOOK_NOT_FOUND", `webhook ${id} not found`, { field: "id" });
    }
    return webhook;
  }

  async function saveWebhook(next: Webhook): Promise<Webhook> {
    await s.updateWebhook(next);
    cache.prime(next);
    return next;
  }

  async function findDelivery(id: string, scope?: Scope): Promise<Delivery> {
    const delivery = await s.getDelivery(id);
    const tenant = scope?.tenantId;
    // A tenant sees deliveries of its events to its own webhooks; those to a global (operator)
    // webhook carry the operator's URL, headers and responses, and answer as unknown.
    const visible =
      delivery !== null &&
      (tenant == null || (delivery.tenantId === tenant && (await s.getWebhook(delivery.webhookId))?.tenantId === tenant));
    if (!visible) throw new HeraldError("HERALD_ERR_DELIVERY_NOT_FOUND", `delivery ${id} not found`, { field: "id" });
    return delivery!;
  }

  const toResult = (result: IngestResult): TriggerResult => {
    if (!result.duplicate) options.onEventAccepted?.(result.event, result.deliveryIds.length);
    return { event: result.event, deliveries: result.deliveryIds, duplicate: result.duplicate };
  };

  function triggerTenant(scope: Scope | undefined): string {
    const tenant = resolveTenant(scope, defaultTenantId);
    if (tenant === null) throw new HeraldError("HERALD_ERR_VALIDATION", "tenantId: an event belongs to one tenant; name it", { field: "tenantId" });
    return tenant;
  }

  const herald: Herald = {
    store,
    defaultTenantId,
    dispatcher,
    get running() {
      return running;
    },
    async trigger(type, data, metadata, triggerOptions) {
      const input: EventInput = { type, data, metadata: metadata ?? null };
      if (triggerOptions?.id !== undefined) input.id = triggerOptions.id;
      if (triggerOptions?.idempotencyKey !== undefined) input.idempotencyKey = triggerOptions.idempotencyKey;
      const tenantId = triggerTenant(triggerOptions);
      const result = await groupCommit.submit(await prepareIngest(s, tenantId, input, limits, Date.now()));
      if (!result.duplicate && result.deliveryIds.length > 0) dispatcher.wake();
      return toResult(result);
    },
    async triggerMany(events, scope) {
      const results = await ingestEvents(s, triggerTenant(scope), events, limits);
      if (results.some((r) => !r.duplicate && r.deliveryIds.length > 0)) dispatcher.wake();
      return results.map(toResult);
    },
    emitSystemEvent,
    webhooks: {
      async create(input, createOptions) {
        const tenantId = resolveTenant(createOptions, defaultTenantId);
        if (tenantId !== null && !(await s.getTenant(tenantId))) {
          throw new HeraldError("HERALD_ERR_TENANT_NOT_FOUND", `tenantId: tenant ${tenantId} not found`, { field: "tenantId" });
        }
        const identus = createOptions?.kind === "identus";
        const webhook = buildWebhook(input, {
          tenantId,
          now: Date.now(),
          kind: createOptions?.kind ?? "native",
          ...(identus ? { retryBase: IDENTUS_RETRY_POLICY, timeoutMs: IDENTUS_TIMEOUT_MS } : {}),
        });
        await checkTargetUrl(webhook.url, targetPolicy);
        await s.insertWebhook(webhook);
        cache.prime(webhook);
        emitSystemEvent(
          "webhook.created",
          { webhook_id: webhook.id, name: webhook.name, url: webhook.url, events: webhook.events },
          webhook.tenantId ?? defaultTenantId,
        );
        return webhook;
      },
      get: findWebhook,
      async list(listOptions = {}) {
        return s.listWebhooks({
          ...(listOptions.allTenants ? {} : { tenantId: resolveTenant(listOptions, defaultTenantId) }),
          ...(listOptions.includeGlobal ? { includeGlobal: true } : {}),
          ...(listOptions.status ? { status: listOptions.status } : {}),
          ...(listOptions.event ? { event: listOptions.event } : {}),
          ...(listOptions.kind ? { kind: listOptions.kind } : {}),
          ...(listOptions.limit !== undefined ? { limit: listOptions.limit } : {}),
          ...(listOptions.cursor ? { cursor: listOptions.cursor } : {}),
        });
      },
      async update(id, patch, scope) {
        const current = await findWebhook(id, scope);
        const patched = applyWebhookPatch(current, patch, Date.now());
        if (patched.url !== current.url) await checkTargetUrl(patched.url, targetPolicy);
        const next = await saveWebhook(patched);
        if (next.status === "active") dispatcher.wake();
        return next;
      },
      async delete(id, scope) {
        await findWebhook(id, scope);
        await s.deleteWebhook(id);
        cache.invalidate(id);
      },
      async pause(id, scope) {
        const current = await findWebhook(id, scope);
        return saveWebhook({ ...current, status: "inactive", disabledReason: null, updatedAt: Date.now() });
      },
      async resume(id, scope) {
        const current = await findWebhook(id, scope);
        const next = await saveWebhook({ ...current, status: "active", disabledReason: null, updatedAt: Date.now() });
        dispatcher.wake();
        return next;
      },
      async rotateSecret(id, scope) {
        const current = await findWebhook(id, scope);
        const now = Date.now();
        const expiresAt = now + (scope?.graceMs ?? graceMs);
        const secret = generateSigningSecret();
        const kept = current.secrets
          .map((old) => ({ secret: old.secret, expiresAt: old.expiresAt === null ? expiresAt : Math.min(old.expiresAt, expiresAt) }))
          .filter((old) => old.expiresAt > now);
        const webhook = await saveWebhook({ ...current, secrets: [{ secret, expiresAt: null }, ...kept], updatedAt: now });
        return { webhook, secret };
      },
      async stats(id, scope) {
        await findWebhook(id, scope);
        return s.webhookStats(id);
      },
      async recover(id, since, scope) {
        await findWebhook(id, scope);
        if (!Number.isFinite(since) || since < 0 || since > Date.now()) {
          throw new HeraldError("HERALD_ERR_VALIDATION", "since: must be a time (epoch ms or ISO-8601) in the past", { field: "since" });
        }
        return recovery.enqueue(id, since);
      },
      async recovery(jobId, scope) {
        const job = await s.getRecoveryJob(jobId);
        if (job) await findWebhook(job.webhookId, scope);
        if (!job) throw new HeraldError("HERALD_ERR_NOT_FOUND", `recovery ${jobId} not found`, { field: "id" });
        return job;
      },
    },
    events: {
      async get(id, scope) {
        const event = await s.getEvent(id);
        if (!event || (scope?.tenantId != null && event.tenantId !== scope.tenantId)) {
          throw new HeraldError("HERALD_ERR_EVENT_NOT_FOUND", `event ${id} not found`, { field: "id" });
        }
        return event;
      },
      async list(filter = {}) {
        const { tenantId, allTenants, ...rest } = filter;
        const tenant = allTenants ? undefined : (resolveTenant({ tenantId }, defaultTenantId) ?? undefined);
        return s.listEvents({ ...rest, ...(tenant === undefined ? {} : { tenantId: tenant }) });
      },
    },
    deliveries: {
      async get(id, scope) {
        const delivery = await findDelivery(id, scope);
        return { ...delivery, attempts: await s.listAttempts(id) };
      },
      async list(filter = {}) {
        const { tenantId, allTenants, ...rest } = filter;
        const tenant = allTenants ? undefined : (resolveTenant({ tenantId }, defaultTenantId) ?? undefined);
        // A named tenant (an API caller's scope) sees only deliveries to its own webhooks.
        const ownWebhooksOnly = typeof tenantId === "string" ? { webhookTenantId: tenantId } : {};
        return s.listDeliveries({ ...rest, ...(tenant === undefined ? {} : { tenantId: tenant }), ...ownWebhooksOnly });
      },
      async attempts(id, scope) {
        await findDelivery(id, scope);
        return s.listAttempts(id);
      },
      async retry(id, scope) {
        const delivery = await findDelivery(id, scope);
        if (delivery.state === "in_flight") {
          throw new HeraldError("HERALD_ERR_CONFLICT", `delivery ${id} is in flight now; retry it once this attempt is recorded`, { field: "id" });
        }
        await s.requeueDelivery(id, Date.now());
        dispatcher.wake();
        return findDelivery(id, scope);
      },
      countByState: () => s.countDeliveriesByState(),
    },
    tenants: {
      async create(input) {
        const tenant: Tenant = { id: input.id ?? uuidv7(), name: input.name, createdAt: Date.now() };
        if (!(await s.insertTenant(tenant))) {
          throw new HeraldError("HERALD_ERR_CONFLICT", `id: tenant ${tenant.id} already exists`, { field: "id" });
        }
        return tenant;
      },
      async get(id) {
        const tenant = await s.getTenant(id);
        if (!tenant) throw new HeraldError("HERALD_ERR_TENANT_NOT_FOUND", `tenant ${id} not found`, { field: "id" });
        return tenant;
      },
      list: () => s.listTenants(),
      async delete(id) {
        if (!(await s.deleteTenant(id))) throw new HeraldError("HERALD_ERR_TENANT_NOT_FOUND", `tenant ${id} not found`, { field: "id" });
        cache.clear();
      },
    },
    async start() {
      running = true;
      await dispatcher.start();
      recovery.start();
      health?.start();
      if (options.retention !== false && !stopRetention) {
        stopRetention = startRetention(s, options.retention ?? { retentionDays: 30, intervalMs: 86_400_000 }, onError);
      }
    },
    async stop() {
      running = false;
      stopRetention?.();
      stopRetention = null;
      health?.stop();
      await recovery.stop();
      await dispatcher.stop();
    },
    async close() {
      if (closed) return;
      closed = true;
      await herald.stop();
      await sender.close();
      await s.close();
    },
  };
  let running = false;
  let closed = false;
  return herald;
}
