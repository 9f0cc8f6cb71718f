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

export interface FailureThrottleOptions {
  /** Failures an address may have before its keys are refused. */
  burst: number;
  /** Seconds until one more failure is allowed. */
  refillSeconds: number;
  /** At most one `notify` per address per this many ms. */
  noticeWindowMs?: number;
}

/**
 * Failed authentications per client address (brute-force guessing): a token bucket of `burst`
 * failures refilled one per `refillSeconds`. `check` before a key is checked (refused while the
 * bucket is empty), `fail` once it proved wrong. Guesses that passed `check` together are all
 * charged, down to -burst, so a flood in flight at once buys a longer wait, not more guesses.
 * IPv6 addresses count per /64, the block one subscriber usually holds.
 */
export class FailureThrottle {
  private readonly buckets = new LRUCache<string, Bucket>({ max: KEYS_MAX });
  private readonly noticed: LRUCache<string, true>;

  constructor(readonly options: FailureThrottleOptions) {
    this.noticed = new LRUCache({ max: KEYS_MAX, ttl: options.noticeWindowMs ?? 60_000 });
  }

  private bucket(address: string): Bucket {
    const now = Date.now();
    const { burst, refillSeconds } = this.options;
    const bucket = this.buckets.get(address) ?? { tokens: burst, updatedAt: now };
    bucket.tokens = Math.min(burst, bucket.tokens + (now - bucket.updatedAt) / 1000 / refillSeconds);
    bucket.updatedAt = now;
    this.buckets.set(address, bucket);
    return bucket;
  }

  check(ip: string): RateLimitDecision {
    const address = addressKey(ip);
    if (!this.buckets.has(address)) return { allowed: true, retryAfterSeconds: 0, notify: false };
    const { tokens } = this.bucket(address);
    if (tokens >= 1) return { allowed: true, retryAfterSeconds: 0, notify: false };
    const notify = !this.noticed.has(address);
    if (notify) this.noticed.set(address, true);
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) * this.options.refillSeconds)), notify };
  }

  fail(ip: string): void {
    const bucket = this.bucket(addressKey(ip));
    bucket.tokens = Math.max(-this.options.burst, bucket.tokens - 1);
  }
}

/** The bucket an address counts in: IPv4 (also IPv4-mapped IPv6) as is, IPv6 by its /64. */
export function addressKey(ip: string): string {
  const address = ip.split("%")[0]!.toLowerCase();
  if (!address.includes(":")) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (mapped) return mapped[1]!;
  const [head = "", tail] = address.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  return groups.slice(0, 4).map((group) => parseInt(group, 16).toString(16)).join(":") + "::/64";
}
