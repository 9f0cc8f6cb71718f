/**
 * `POST /v1/webhooks/{id}/test` (seed 003's `webhooks:test`): one `webhook.test` event sent to
 * this webhook only. It goes through the store and the delivery worker like any delivery, so
 * it is signed, SSRF-checked and recorded in the attempt log; the route then waits briefly for
 * the first attempt so the caller sees the receiver's answer.
 */
import type { Herald } from "../herald.js";
import { uuidv7 } from "../domain/ids.js";
import type { Attempt, Delivery, Webhook } from "../domain/types.js";

const POLL_MS = 25;
/** Longest the route waits beyond the webhook's own timeout before answering 202. */
const WAIT_MARGIN_MS = 2_000;
const MAX_WAIT_MS = 35_000;

export interface WebhookTestResult {
  delivery: Delivery;
  attempt: Attempt | null;
}

export async function sendTestEvent(herald: Herald, webhook: Webhook): Promise<WebhookTestResult> {
  const now = Date.now();
  const deliveryId = uuidv7(now);
  await herald.store.ingest({
    event: {
      id: uuidv7(now),
      tenantId: webhook.tenantId ?? herald.defaultTenantId,
      type: "webhook.test",
      data: { webhook_id: webhook.id, message: "Test event from Herald", timestamp: new Date(now).toISOString() },
      metadata: { test: true },
      createdAt: now,
    },
    deliveries: [{ id: deliveryId, webhookId: webhook.id }],
    idempotencyKey: null,
    idempotencyWindowMs: 0,
  });
  herald.dispatcher.wake();
  const deadline = now + Math.min(webhook.timeoutMs + WAIT_MARGIN_MS, MAX_WAIT_MS);
  // Paused webhooks are never claimed, and without a worker here or in another process nothing sends it: answer at once.
  const canDeliver = webhook.status === "active" && (herald.running || herald.store.capabilities.multiProcess);
  for (;;) {
    const delivery = await herald.store.getDelivery(deliveryId);
    if (!delivery) throw new Error(`test delivery ${deliveryId} vanished`);
    if (delivery.attemptCount > 0 || !canDeliver || Date.now() >= deadline) {
      const attempts = delivery.attemptCount > 0 ? await herald.store.listAttempts(deliveryId) : [];
      return { delivery, attempt: attempts[0] ?? null };
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
