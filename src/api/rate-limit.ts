/**
 * Per-key request limit, counted by @fastify/rate-limit in memory. Each process limits on its
 * own, so with N API processes a key may reach N times the rate; that keeps the hot path free
 * of store round-trips, and the limit exists to stop runaway clients, not to bill exactly.
 *
 * The plugin's own store counts fixed windows, which would turn HERALD_RATE_LIMIT_PER_SECOND and
 * _BURST into "burst requests, then locked out until the window ends" (2 s at the defaults, longer
 * the larger the burst). `TokenBucketStore` keeps the plugin's hooks, keys and answers but counts
 * a token bucket: a key that spent its burst may go on at the steady rate at once, and
 * Retry-After is the time until its next token.
 */
import fastifyRateLimit from "@fastify/rate-limit";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { LRUCache } from "lru-cache";
import { internalError } from "../errors.js";

export interface RateLimitDecision {
  allowed: boolean;
  /** Seconds until a request is allowed again (for Retry-After); 0 when allowed. */
  retryAfterSeconds: number;
  /** True the first time a key is refused in a notice window: announce it then, not on every refusal. */
  notify: boolean;
}

export interface RateLimiterOptions {
  /** 0: no limit. */
  perSecond: number;
  burst: number;
  /** At most one `notify` per key per this many ms. */
  noticeWindowMs?: number;
}

/** Keys counted (and keys noticed) at once; the least recently seen past this start afresh. */
const KEYS_MAX = 10_000;

type CheckLimit = ReturnType<FastifyInstance["createRateLimit"]>;

interface Bucket {
  tokens: number;
  updatedAt: number;
}

type StoreCallback = (error: Error | null, result: { current: number; ttl: number }) => void;

/** A @fastify/rate-limit store (its `incr`/`read`/`child` contract) counting a token bucket per key. */
function tokenBucketStore(perSecond: number, burst: number) {
  const buckets = new LRUCache<string, Bucket>({ max: KEYS_MAX });
  const refill = (key: string, now: number): Bucket => {
    const bucket = buckets.get(key) ?? { tokens: burst, updatedAt: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * perSecond);
    bucket.updatedAt = now;
    buckets.set(key, bucket);
    return bucket;
  };
  /**
   * `current` as the plugin reads it (max - current is what is left; over max is refused), and
   * `ttl`: refused, the time until the next token (Retry-After); allowed, until the bucket is full.
   */
  const answer = (bucket: Bucket, max: number, refused: boolean) => ({
    current: refused ? max + 1 : max - Math.floor(bucket.tokens),
    ttl: Math.ceil((((refused ? 1 : burst) - bucket.tokens) / perSecond) * 1000),
  });
  return class TokenBucketStore {
    incr(key: string, callback: StoreCallback, _timeWindow: number, max: number): void {
      const bucket = refill(key, Date.now());
      const refused = bucket.tokens < 1;
      if (!refused) bucket.tokens -= 1;
      callback(null, answer(bucket, max, refused));
    }
    read(key: string, callback: StoreCallback, _timeWindow: number, max: number): void {
      const bucket = refill(key, Date.now());
      callback(null, answer(bucket, max, bucket.tokens < 1));
    }
    child(): TokenBucketStore {
      return this;
    }
  };
}

export class RateLimiter {
  private check: CheckLimit | null = null;
  private readonly noticed: LRUCache<string, true>;

  constructor(private readonly options: RateLimiterOptions) {
    this.noticed = new LRUCache({ max: KEYS_MAX, ttl: options.noticeWindowMs ?? 60_000 });
  }

  get enabled(): boolean {
    return this.options.perSecond > 0;
  }

  /** Registers the plugin without hooks of its own: the caller asks `take` once it knows whose request it is. */
  install(app: FastifyInstance, keyOf: (request: FastifyRequest) => string): void {
    if (!this.enabled) return;
    const { perSecond, burst } = this.options;
    const max = Math.max(1, Math.floor(burst));
    void app
      .register(fastifyRateLimit, {
        global: false,
        max,
        timeWindow: Math.max(1, Math.round((max * 1000) / perSecond)),
        keyGenerator: keyOf,
        store: tokenBucketStore(perSecond, burst),
      })
      .after(() => {
        this.check = app.createRateLimit();
      });
  }

  /** Counts the request against its key. */
  async take(request: FastifyRequest): Promise<RateLimitDecision> {
    if (!this.enabled) return { allowed: true, retryAfterSeconds: 0, notify: false };
    if (!this.check) throw internalError("rate limit: take() before install() and app.ready()");
    const result = await this.check(request);
    if (result.isAllowed || !result.isExceeded) return { allowed: true, retryAfterSeconds: 0, notify: false };
    const notify = !this.noticed.has(result.key);
    if (notify) this.noticed.set(result.key, true);
    return { allowed: false, retryAfterSeconds: Math.max(1, result.ttlInSeconds), notify };
  }
}
