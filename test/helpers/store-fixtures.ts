/** Domain objects for store tests, complete and valid, with overrides for what a test is about. */
import { uuidv7 } from "../../src/domain/ids.js";
import type { Attempt, HeraldEvent, Webhook } from "../../src/domain/types.js";
import type { AttemptOutcome, ClaimRequest, DueDelivery, IngestRequest, IngestResult, Store } from "../../src/store/store.js";

export const DAY_MS = 24 * 3_600_000;

export function makeWebhook(overrides: Partial<Webhook> = {}): Webhook {
  const now = overrides.createdAt ?? 1_700_000_000_000;
  return {
    id: uuidv7(),
    tenantId: null,
    kind: "native",
    name: "receiver",
    url: "https://receiver.example/hook",
    description: "",
    events: ["*"],
    method: "POST",
    headers: {},
    auth: { type: "none" },
    secrets: [{ secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", expiresAt: null }],
    retry: { strategy: "exponential", maxAttempts: 3, initialDelayMs: 1_000, maxDelayMs: 60_000, multiplier: 2, jitter: 0, windowMs: null },
    timeoutMs: 5_000,
    status: "active",
    disabledReason: null,
    payloadFormat: "identus",
    rateLimitPerSecond: null,
    maxConcurrency: 10,
    ordered: false,
    propagateTraceContext: false,
    metadata: {},
    uid: null,
    channels: null,
    filter: null,
    failingSince: null,
    createdAt: now,
    updatedAt: now,
    ...overrides,
  };
}

export function makeEvent(tenantId: string, overrides: Partial<HeraldEvent> = {}): HeraldEvent {
  const createdAt = overrides.createdAt ?? 1_700_000_000_000;
  return { id: uuidv7(createdAt), tenantId, type: "agent.created", data: { n: 1 }, metadata: null, createdAt, ...overrides };
}

export function ingestRequest(event: HeraldEvent, webhookIds: string[], idempotencyKey: string | null = null): IngestRequest {
  return {
    event,
    deliveries: webhookIds.map((webhookId) => ({ id: uuidv7(event.createdAt), webhookId })),
    idempotencyKey,
    idempotencyWindowMs: DAY_MS,
  };
}

/** Ingests `count` events of `tenantId`, each delivered to every webhook in `webhookIds`. */
export async function ingestEvents(
  store: Store,
  tenantId: string,
  webhookIds: string[],
  count = 1,
  overrides: Partial<HeraldEvent> = {},
): Promise<IngestResult[]> {
  const results: IngestResult[] = [];
  for (let i = 0; i < count; i++) results.push(await store.ingest(ingestRequest(makeEvent(tenantId, overrides), webhookIds)));
  return results;
}

/** Claims as one dispatcher would: `inFlight` counts what this claimer holds and has not settled. */
export function makeClaimer(store: Store, owner: string, defaults: Partial<ClaimRequest> = {}) {
  const held = new Map<string, number>();
  return {
    owner,
    held,
    async claim(request: Partial<ClaimRequest> = {}): Promise<DueDelivery[]> {
      const claimed = await store.claimDueDeliveries({
        now: 1_700_000_000_000,
        limit: 100,
        owner,
        saturatedWebhookIds: [],
        inFlight: (id) => held.get(id) ?? 0,
        leaseMarginMs: 30_000,
        ...defaults,
        ...request,
      });
      for (const d of claimed) held.set(d.webhookId, (held.get(d.webhookId) ?? 0) + 1);
      return claimed;
    },
    async settle(outcomes: AttemptOutcome[]): Promise<void> {
      await store.recordAttempts(outcomes, owner);
      for (const o of outcomes) held.set(o.attempt.webhookId, (held.get(o.attempt.webhookId) ?? 1) - 1);
    },
  };
}

export function makeAttempt(delivery: Pick<DueDelivery, "id" | "webhookId" | "attemptCount">, overrides: Partial<Attempt> = {}): Attempt {
  return {
    id: uuidv7(),
    deliveryId: delivery.id,
    webhookId: delivery.webhookId,
    attemptNumber: delivery.attemptCount + 1,
    startedAt: 1_700_000_001_000,
    durationMs: 12.5,
    request: { method: "POST", url: "https://receiver.example/hook", headers: { "content-type": "application/json", "webhook-id": "x" } },
    response: { status: 200, headers: { "x-reply": "ok" }, body: "thanks" },
    errorClass: null,
    errorMessage: null,
    ...overrides,
  };
}

export function succeeded(delivery: DueDelivery, overrides: Partial<Attempt> = {}): AttemptOutcome {
  return { attempt: makeAttempt(delivery, overrides), state: "succeeded", nextAttemptAt: null };
}

export function failedAttempt(delivery: DueDelivery, state: "pending" | "failed", nextAttemptAt: number | null, overrides: Partial<Attempt> = {}): AttemptOutcome {
  return {
    attempt: makeAttempt(delivery, { response: { status: 500, headers: {}, body: "boom" }, errorClass: "http", errorMessage: "HTTP 500", ...overrides }),
    state,
    nextAttemptAt,
  };
}
