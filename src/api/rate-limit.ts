/**
 * Per-key request limit: a token bucket per API key, in memory. Each process limits on its
 * own, so with N API processes a key may reach N times the rate; that keeps the hot path free
 * of store round-trips, and the limit exists to stop runaway clients, not to bill exactly.
 */

export interface RateLimitDecision {
  allowed: boolean;
  /** Seconds until one request is allowed again (for Retry-After); 0 when allowed. */
  retryAfterSeconds: number;
  /** True the first time a key is refused in a notice window: announce it then, not on every refusal. */
  notify: boolean;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
  lastNoticeAt: number;
}

export interface RateLimiterOptions {
  perSecond: number;
  burst: number;
  /** At most one `notify` per key per this many ms. */
  noticeWindowMs?: number;
  now?: () => number;
}

/** Buckets idle this long are full again and can be forgotten. */
const IDLE_FORGET_MS = 10 * 60_000;

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly noticeWindowMs: number;
  private readonly now: () => number;
  private lastSweep = 0;

  constructor(private readonly options: RateLimiterOptions) {
    this.noticeWindowMs = options.noticeWindowMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.options.perSecond > 0;
  }

  take(key: string): RateLimitDecision {
    if (!this.enabled) return { allowed: true, retryAfterSeconds: 0, notify: false };
    const now = this.now();
    this.sweep(now);
    const { perSecond, burst } = this.options;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { tokens: burst, updatedAt: now, lastNoticeAt: -Infinity };
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * perSecond);
    bucket.updatedAt = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true, retryAfterSeconds: 0, notify: false };
    }
    const notify = now - bucket.lastNoticeAt >= this.noticeWindowMs;
    if (notify) bucket.lastNoticeAt = now;
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / perSecond)), notify };
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < IDLE_FORGET_MS) return;
    this.lastSweep = now;
    for (const [key, bucket] of this.buckets) {
      if (now - bucket.updatedAt > IDLE_FORGET_MS && now - bucket.lastNoticeAt > this.noticeWindowMs) this.buckets.delete(key);
    }
  }
}
