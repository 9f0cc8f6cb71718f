/**
 * An hour of past deliveries for the screenshot scene, written through the Store interface as
 * the worker would write them (ingest, claim, record the attempt) but with past timestamps, so
 * the charts have a history to draw. Only for a server without a worker (role "api"): a running
 * worker would claim and send these deliveries itself.
 */
import { uuidv7 } from "../../src/domain/ids.js";
import type { Attempt } from "../../src/domain/types.js";
import type { AttemptOutcome, Store } from "../../src/store/store.js";

export interface SeededWebhook {
  id: string;
  url: string;
  /** Share of attempts that fail, 0..1. */
  failureShare: number;
  /** Typical response time in ms; a slow spell mid-hour doubles it. */
  baseMs: number;
}

/** A deterministic sequence in [0, 1), so every run draws the same pictures. */
function makeRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

export async function seedHistory(store: Store, tenantId: string, webhooks: SeededWebhook[], eventTypes: string[], minutes = 60): Promise<void> {
  const random = makeRandom(42);
  const now = Date.now();
  for (let minute = minutes; minute > 0; minute--) {
    for (let n = 0; n < 3; n++) {
      const at = now - minute * 60_000 + n * 17_000;
      const type = eventTypes[Math.floor(random() * eventTypes.length)] ?? "order.created";
      await store.ingest({
        event: { id: uuidv7(at), tenantId, type, data: { orderId: 1000 + minute * 3 + n, amount: Math.round(random() * 20_000) / 100 }, metadata: null, createdAt: at },
        deliveries: webhooks.map((webhook) => ({ id: uuidv7(at), webhookId: webhook.id })),
        idempotencyKey: null,
        idempotencyWindowMs: 0,
      });
    }
  }
  const byId = new Map(webhooks.map((webhook) => [webhook.id, webhook]));
  for (;;) {
    const claimed = await store.claimDueDeliveries({ now, limit: 500, owner: "seed", saturatedWebhookIds: [], inFlight: () => 0, leaseMarginMs: 60_000 });
    if (claimed.length === 0) return;
    const outcomes: AttemptOutcome[] = claimed.map((delivery) => {
      const webhook = byId.get(delivery.webhookId)!;
      const startedAt = delivery.createdAt + 15;
      const minutesAgo = (now - startedAt) / 60_000;
      const slowSpell = minutesAgo > 20 && minutesAgo < 32 ? 2.2 : 1;
      const durationMs = Math.round(webhook.baseMs * slowSpell * (0.6 + random() * 0.8 + (random() < 0.08 ? 2 : 0)));
      const failed = random() < webhook.failureShare * (slowSpell > 1 ? 2 : 1);
      const status = failed ? (random() < 0.5 ? 503 : 500) : 200;
      const attempt: Attempt = {
        id: uuidv7(startedAt),
        deliveryId: delivery.id,
        webhookId: delivery.webhookId,
        attemptNumber: 1,
        startedAt,
        durationMs,
        request: { method: "POST", url: webhook.url, headers: { "content-type": "application/json", "x-webhook-event": delivery.event.type } },
        response: { status, headers: { "content-type": "application/json" }, body: JSON.stringify(failed ? { error: "upstream unavailable" } : { ok: true }) },
        errorClass: failed ? "http" : null,
        errorMessage: failed ? `HTTP ${status}` : null,
      };
      return { attempt, state: failed ? "failed" : "succeeded", nextAttemptAt: null };
    });
    await store.recordAttempts(outcomes, "seed");
  }
}
