/**
 * Per-webhook pacing inside one worker process: the rate limit (a token bucket of
 * rateLimitPerSecond) and back-off after a receiver signals overload (429, 503, timeouts).
 * This is not retry state — retries are rows in the store. It only decides how many of a
 * webhook's due deliveries this process may start now; losing it in a crash loses nothing.
 */
import type { Webhook } from "../domain/types.js";

interface Bucket {
  tokens: number;
  refilledAt: number;
  rate: number;
}

/** Back-off after an overload signal: 1 s, doubling per consecutive signal, at most 60 s. */
const BASE_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 60_000;

export class WebhookPacing {
  private readonly buckets = new Map<string, Bucket>();
  private readonly pausedUntil = new Map<string, { until: number; streak: number }>();

  /** How many requests the webhook may start now, by rate limit and back-off; Infinity when unpaced. */
  allowance(webhook: Webhook | null | undefined, now: number): number {
    if (!webhook) return Infinity;
    const paused = this.pausedUntil.get(webhook.id);
    if (paused && paused.until > now) return 0;
    const rate = webhook.rateLimitPerSecond;
    if (rate === null) return Infinity;
    const bucket = this.refill(webhook.id, rate, now);
    return Math.floor(bucket.tokens);
  }

  /** Whether the webhook has anything paced at all (so the claim can skip the bookkeeping). */
  isPaced(webhook: Webhook | null | undefined): boolean {
    return !!webhook && (webhook.rateLimitPerSecond !== null || this.pausedUntil.has(webhook.id));
  }

  /** One request started: spend a token. */
  spend(webhook: Webhook, now: number): void {
    if (webhook.rateLimitPerSecond === null) return;
    this.refill(webhook.id, webhook.rateLimitPerSecond, now).tokens -= 1;
  }

  /** The receiver is overloaded: hold the webhook back for `retryAfterMs`, or a growing back-off. */
  backOff(webhookId: string, now: number, retryAfterMs: number | null): number {
    const streak = (this.pausedUntil.get(webhookId)?.streak ?? 0) + 1;
    const delay = retryAfterMs ?? Math.min(BASE_BACKOFF_MS * 2 ** (streak - 1), MAX_BACKOFF_MS);
    this.pausedUntil.set(webhookId, { until: now + delay, streak });
    return now + delay;
  }

  /** A success: the receiver is fine again. */
  recovered(webhookId: string): void {
    this.pausedUntil.delete(webhookId);
  }

  /** The earliest time a back-off ends, to wake the worker then. */
  nextResumeAt(now: number): number | null {
    let next: number | null = null;
    for (const { until } of this.pausedUntil.values()) {
      if (until > now && (next === null || until < next)) next = until;
    }
    return next;
  }

  /** Webhooks this process must not start anything for right now. */
  heldBack(now: number): string[] {
    const held: string[] = [];
    for (const [id, { until }] of this.pausedUntil) if (until > now) held.push(id);
    for (const [id, bucket] of this.buckets) if (this.refill(id, bucket.rate, now).tokens < 1) held.push(id);
    return held;
  }

  private refill(id: string, rate: number, now: number): Bucket {
    // Burst of one second's worth (at least one request), refilled continuously.
    const capacity = Math.max(1, rate);
    let bucket = this.buckets.get(id);
    if (!bucket || bucket.rate !== rate) {
      bucket = { tokens: capacity, refilledAt: now, rate };
      this.buckets.set(id, bucket);
      return bucket;
    }
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.refilledAt) / 1000) * rate);
    bucket.refilledAt = now;
    return bucket;
  }
}
