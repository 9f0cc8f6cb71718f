/**
 * Per-key request limit, counted by @fastify/rate-limit in memory. Each process limits on its
 * own, so with N API processes a key may reach N times the rate; that keeps the hot path free
 * of store round-trips, and the limit exists to stop runaway clients, not to bill exactly.
 *
 * The plugin counts in fixed windows, so HERALD_RATE_LIMIT_PER_SECOND and _BURST become
 * "burst requests per burst/perSecond seconds": the same long-run rate and the same burst a
 * token bucket allows, except that a client straddling a window edge may send two bursts.
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
        cache: KEYS_MAX,
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
