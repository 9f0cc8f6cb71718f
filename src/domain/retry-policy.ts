/**
 * Retry policies (SPEC section 4). Hand-written rather than a backoff library: the schedule is
 * stored per webhook and computed from rows (attempt count, creation time, the window), never
 * held as timers, which is the part such libraries own.
 */
import { invalidField } from "../errors.js";
import type { RetryPolicy, RetryStrategy } from "./types.js";

/** Seed 003's default: exponential, 3 attempts, 1 s initial, x2, 60 s max. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  strategy: "exponential",
  maxAttempts: 3,
  initialDelayMs: 1_000,
  maxDelayMs: 60_000,
  multiplier: 2,
  jitter: 0,
  windowMs: null,
};

/** Identus webhooks (seeds 000-002): 3 attempts, 5 seconds apart. */
export const IDENTUS_RETRY_POLICY: RetryPolicy = {
  strategy: "fixed",
  maxAttempts: 3,
  initialDelayMs: 5_000,
  maxDelayMs: 5_000,
  multiplier: 1,
  jitter: 0,
  windowMs: null,
};

export const DEFAULT_TIMEOUT_MS = 30_000;
export const IDENTUS_TIMEOUT_MS = 5_000;

const STRATEGIES: readonly RetryStrategy[] = ["exponential", "linear", "fixed"];
const MAX_ATTEMPTS = 100;
const MAX_DELAY_MS = 7 * 24 * 3_600_000;
const MAX_WINDOW_MS = 30 * 24 * 3_600_000;

function integerIn(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw invalidField(field, `must be a whole number from ${min} to ${max}; got ${JSON.stringify(value)}`);
  }
  return value;
}

function numberIn(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
    throw invalidField(field, `must be a number from ${min} to ${max}; got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Merges a partial policy over `base` and checks every number, naming the field at fault. */
export function resolveRetryPolicy(input: unknown, base: RetryPolicy = DEFAULT_RETRY_POLICY, field = "retry"): RetryPolicy {
  if (input === undefined || input === null) return { ...base };
  if (typeof input !== "object" || Array.isArray(input)) {
    throw invalidField(field, "must be an object like {\"strategy\":\"exponential\",\"maxAttempts\":5}");
  }
  const raw = input as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!(key in DEFAULT_RETRY_POLICY)) {
      throw invalidField(`${field}.${key}`, `is not a retry setting; use ${Object.keys(DEFAULT_RETRY_POLICY).join(", ")}`);
    }
  }
  const strategy = raw.strategy ?? base.strategy;
  if (typeof strategy !== "string" || !STRATEGIES.includes(strategy as RetryStrategy)) {
    throw invalidField(`${field}.strategy`, `must be one of ${STRATEGIES.join(", ")}; got ${JSON.stringify(strategy)}`);
  }
  const policy: RetryPolicy = {
    strategy: strategy as RetryStrategy,
    maxAttempts: integerIn(`${field}.maxAttempts`, raw.maxAttempts ?? base.maxAttempts, 1, MAX_ATTEMPTS),
    initialDelayMs: integerIn(`${field}.initialDelayMs`, raw.initialDelayMs ?? base.initialDelayMs, 0, MAX_DELAY_MS),
    maxDelayMs: integerIn(`${field}.maxDelayMs`, raw.maxDelayMs ?? base.maxDelayMs, 0, MAX_DELAY_MS),
    multiplier: numberIn(`${field}.multiplier`, raw.multiplier ?? base.multiplier, 1, 100),
    jitter: numberIn(`${field}.jitter`, raw.jitter ?? base.jitter, 0, 1),
    windowMs:
      (raw.windowMs ?? base.windowMs) === null
        ? null
        : integerIn(`${field}.windowMs`, raw.windowMs ?? base.windowMs, 1, MAX_WINDOW_MS),
  };
  if (policy.maxDelayMs < policy.initialDelayMs) {
    throw invalidField(`${field}.maxDelayMs`, `must be at least initialDelayMs (${policy.initialDelayMs})`);
  }
  return policy;
}

/**
 * The delay before attempt `failedAttempts + 1`, after `failedAttempts` failures (1-based).
 * `retryAfterMs` (from a 429/503 `Retry-After`) replaces the computed delay, still bounded by maxDelayMs.
 */
export function retryDelayMs(policy: RetryPolicy, failedAttempts: number, retryAfterMs: number | null = null, random = Math.random): number {
  if (retryAfterMs !== null) return Math.min(Math.max(retryAfterMs, 0), policy.maxDelayMs);
  let delay: number;
  switch (policy.strategy) {
    case "exponential":
      delay = policy.initialDelayMs * policy.multiplier ** (failedAttempts - 1);
      break;
    case "linear":
      delay = policy.initialDelayMs * failedAttempts;
      break;
    case "fixed":
      delay = policy.initialDelayMs;
      break;
  }
  delay = Math.min(delay, policy.maxDelayMs);
  if (policy.jitter > 0) delay = delay * (1 - policy.jitter) + delay * policy.jitter * random();
  return Math.round(delay);
}

/**
 * When the next attempt is due, or null when the delivery has given up: attempts exhausted,
 * or the next attempt would fall outside the policy's window.
 */
export function nextAttemptAt(
  policy: RetryPolicy,
  failedAttempts: number,
  deliveryCreatedAt: number,
  now: number,
  retryAfterMs: number | null = null,
): number | null {
  if (failedAttempts >= policy.maxAttempts) return null;
  const at = now + retryDelayMs(policy, failedAttempts, retryAfterMs);
  if (policy.windowMs !== null && at > deliveryCreatedAt + policy.windowMs) return null;
  return at;
}
