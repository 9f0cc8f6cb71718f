/** Webhooks: creating, changing and reading them, their secrets, recovery, statistics and test sends. */
import { IDENTUS_RETRY_POLICY, IDENTUS_TIMEOUT_MS } from "../domain/retry-policy.js";
import type { Attempt, Delivery, DeliveryState, Page, RecoveryJob, Webhook, WebhookStats, WebhookStatus } from "../domain/types.js";
import { applyWebhookPatch, buildWebhook, type WebhookInput, type WebhookPatch } from "../domain/webhook-input.js";
import { conflict, internalError, invalidField, notFound } from "../errors.js";
import { DIRECT } from "../domain/webhook-egress.js";
import { checkTargetUrl } from "../security/target-guard.js";
import { generateSigningSecret, isSigningSecret } from "../signing/standard-webhooks.js";
import type { AttemptSeriesBucket, AttemptSeriesQuery } from "../store/stats-series.js";
import type { EngineContext } from "./context.js";
import { pageCursor, resolveTenant, type Scope } from "./scope.js";

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

export interface WebhookTestResult {
  delivery: Delivery;
  /** The first attempt, or null when none was made in time (paused, or no worker running). */
  attempt: Attempt | null;
}

export interface WebhookService {
  create(input: WebhookInput, options?: WebhookCreateOptions): Promise<Webhook>;
  get(id: string, scope?: Scope): Promise<Webhook>;
  /** The tenant's webhook with this uid (Svix's endpoint uid). */
  getByUid(tenantId: string, uid: string): Promise<Webhook>;
  list(options?: WebhookListOptions): Promise<Page<Webhook>>;
  update(id: string, patch: WebhookPatch, scope?: Scope): Promise<Webhook>;
  delete(id: string, scope?: Scope): Promise<void>;
  pause(id: string, scope?: Scope): Promise<Webhook>;
  resume(id: string, scope?: Scope): Promise<Webhook>;
  /** A new signing secret; the old one keeps signing alongside it for the grace period. */
  rotateSecret(id: string, scope?: Scope & { graceMs?: number; secret?: string }): Promise<{ webhook: Webhook; secret: string }>;
  /** Re-queues the webhook's failed deliveries created since `since`, durably, in batches. */
  recover(id: string, since: number, scope?: Scope): Promise<RecoveryJob>;
  recovery(jobId: string, scope?: Scope): Promise<RecoveryJob>;
  stats(id: string, scope?: Scope): Promise<WebhookStats>;
  /** The webhook's deliveries per state. */
  deliveryCounts(id: string, scope?: Scope): Promise<Record<DeliveryState, number>>;
  /** Attempts per time bucket with success count and p50/p95 duration (the dashboard's charts). */
  attemptSeries(id: string, query: AttemptSeriesQuery, scope?: Scope): Promise<AttemptSeriesBucket[]>;
  /**
   * Sends one `webhook.test` event to this webhook only, through the same ingest and worker as
   * any delivery (signed, SSRF-checked, recorded), and waits briefly for its first attempt.
   */
  sendTest(id: string, scope?: Scope): Promise<WebhookTestResult>;
}

const TEST_POLL_MS = 25;
/** Longest a test send waits beyond the webhook's own timeout before answering without an attempt. */
const TEST_WAIT_MARGIN_MS = 2_000;
const TEST_MAX_WAIT_MS = 35_000;

export function makeWebhookService(ctx: EngineContext): WebhookService {
  const { store, webhookCache: cache, config } = ctx;

  async function find(id: string, scope?: Scope): Promise<Webhook> {
    const webhook = await store.getWebhook(id);
    // A tenant sees only its own webhooks; another tenant's id answers exactly as an unknown one.
    if (!webhook || (scope?.tenantId !== undefined && webhook.tenantId !== scope.tenantId)) throw notFound.webhook(id);
    return webhook;
  }

  /** A uid names one webhook in its tenant. */
  async function assertUidFree(webhook: Webhook): Promise<void> {
    if (!webhook.uid || webhook.tenantId === null) return;
    const holder = await store.getWebhookByUid(webhook.tenantId, webhook.uid);
    if (holder && holder.id !== webhook.id) throw conflict("uid", `webhook ${holder.id} of this tenant already has uid ${webhook.uid}; choose another uid`);
  }

  /** A webhook's own proxy is a place Herald connects to on a tenant's word: held to the target rules (the server's proxy is the operator's). */
  async function checkOwnProxy(webhook: Webhook): Promise<void> {
    if (!webhook.proxyUrl || webhook.proxyUrl === DIRECT) return;
    // A proxy may be on any port, and http: what it carries to an https target is tunnelled.
    await checkTargetUrl(webhook.proxyUrl, { ...config.targetPolicy, deniedPorts: [], httpsOnly: false }, "proxyUrl");
  }

  async function save(next: Webhook): Promise<Webhook> {
    await store.updateWebhook(next);
    cache.prime(next);
    return next;
  }

  async function waitForFirstAttempt(webhook: Webhook, deliveryId: string, startedAt: number): Promise<WebhookTestResult> {
    const deadline = startedAt + Math.min(webhook.timeoutMs + TEST_WAIT_MARGIN_MS, TEST_MAX_WAIT_MS);
    // Paused webhooks are never claimed, and without a worker here or in another process nothing sends it: answer at once.
    const canDeliver = webhook.status === "active" && (ctx.state.running || store.capabilities.multiProcess);
    for (;;) {
      const delivery = await store.getDelivery(deliveryId);
      if (!delivery) throw notFound.delivery(deliveryId); // the webhook was deleted meanwhile
      if (delivery.attemptCount > 0 || !canDeliver || Date.now() >= deadline) {
        const attempts = delivery.attemptCount > 0 ? await store.listAttempts(deliveryId) : [];
        return { delivery, attempt: attempts[0] ?? null };
      }
      await new Promise((resolve) => setTimeout(resolve, TEST_POLL_MS));
    }
  }

  return {
    async create(input, options) {
      const tenantId = resolveTenant(options, config.defaultTenantId);
      if (tenantId !== null && !(await store.getTenant(tenantId))) throw notFound.tenant(tenantId, "tenantId");
      const identus = options?.kind === "identus";
      const webhook = buildWebhook(input, {
        tenantId,
        now: Date.now(),
        kind: options?.kind ?? "native",
        ...(identus ? { retryBase: IDENTUS_RETRY_POLICY, timeoutMs: IDENTUS_TIMEOUT_MS } : {}),
      });
      await checkTargetUrl(webhook.url, config.targetPolicy);
      if (webhook.auth.type === "oauth2") await checkTargetUrl(webhook.auth.credentials.token_url, config.targetPolicy, "auth.credentials.token_url");
      await checkOwnProxy(webhook);
      await assertUidFree(webhook);
      await store.insertWebhook(webhook);
      cache.prime(webhook);
      ctx.emitSystemEvent(
        "webhook.created",
        { webhook_id: webhook.id, name: webhook.name, url: webhook.url, events: webhook.events },
        webhook.tenantId ?? config.defaultTenantId,
      );
      return webhook;
    },
    get: find,
    async getByUid(tenantId, uid) {
      const webhook = await store.getWebhookByUid(tenantId, uid);
      if (!webhook) throw notFound.webhook(uid);
      return webhook;
    },
    async list(options = {}) {
      return store.listWebhooks({
        ...(options.allTenants ? {} : { tenantId: resolveTenant(options, config.defaultTenantId) }),
        ...(options.includeGlobal ? { includeGlobal: true } : {}),
        ...(options.status ? { status: options.status } : {}),
        ...(options.event ? { event: options.event } : {}),
        ...(options.kind ? { kind: options.kind } : {}),
        ...(options.limit !== undefined ? { limit: options.limit } : {}),
        ...pageCursor(options.cursor),
      });
    },
    async update(id, patch, scope) {
      const current = await find(id, scope);
      const patched = applyWebhookPatch(current, patch, Date.now());
      if (patched.url !== current.url) await checkTargetUrl(patched.url, config.targetPolicy);
      if (patched.auth !== current.auth && patched.auth.type === "oauth2") {
        await checkTargetUrl(patched.auth.credentials.token_url, config.targetPolicy, "auth.credentials.token_url");
      }
      if (patched.proxyUrl !== current.proxyUrl) await checkOwnProxy(patched);
      if (patched.uid !== current.uid) await assertUidFree(patched);
      const next = await save(patched);
      if (next.status === "active") ctx.work.notify();
      return next;
    },
    async delete(id, scope) {
      await find(id, scope);
      await store.deleteWebhook(id);
      cache.invalidate(id);
    },
    async pause(id, scope) {
      const current = await find(id, scope);
      return save({ ...current, status: "inactive", disabledReason: null, updatedAt: Date.now() });
    },
    async resume(id, scope) {
      const current = await find(id, scope);
      const next = await save({ ...current, status: "active", disabledReason: null, updatedAt: Date.now() });
      ctx.work.notify();
      return next;
    },
    async rotateSecret(id, scope) {
      const current = await find(id, scope);
      const now = Date.now();
      const expiresAt = now + (scope?.graceMs ?? config.secretRotationGraceMs);
      const secret = scope?.secret ?? generateSigningSecret();
      if (!isSigningSecret(secret)) throw invalidField("secret", "must be whsec_ followed by 16 to 64 base64-encoded bytes");
      const kept = current.secrets
        .map((old) => ({ secret: old.secret, expiresAt: old.expiresAt === null ? expiresAt : Math.min(old.expiresAt, expiresAt) }))
        .filter((old) => old.expiresAt > now);
      const webhook = await save({ ...current, secrets: [{ secret, expiresAt: null }, ...kept], updatedAt: now });
      return { webhook, secret };
    },
    async stats(id, scope) {
      await find(id, scope);
      return store.webhookStats(id);
    },
    async deliveryCounts(id, scope) {
      await find(id, scope);
      return store.countDeliveriesByState(id);
    },
    async attemptSeries(id, query, scope) {
      await find(id, scope);
      return store.webhookAttemptSeries(id, query);
    },
    async recover(id, since, scope) {
      await find(id, scope);
      if (!Number.isFinite(since) || since < 0 || since > Date.now()) {
        throw invalidField("since", "must be a time (epoch ms or ISO-8601) in the past");
      }
      return ctx.recovery.enqueue(id, since);
    },
    async recovery(jobId, scope) {
      const job = await store.getRecoveryJob(jobId);
      if (!job) throw notFound.recovery(jobId);
      await find(job.webhookId, scope);
      return job;
    },
    async sendTest(id, scope) {
      const webhook = await find(id, scope);
      const now = Date.now();
      const result = await ctx.ingest.acceptOne(
        webhook.tenantId ?? config.defaultTenantId,
        { type: "webhook.test", data: { webhook_id: webhook.id, message: "Test event from Herald", timestamp: new Date(now).toISOString() }, metadata: { test: true } },
        { deliverTo: webhook.id, internal: true },
      );
      const [deliveryId] = result.deliveryIds;
      if (deliveryId === undefined) throw internalError("a test send was accepted with no delivery");
      return waitForFirstAttempt(webhook, deliveryId, now);
    },
  };
}
