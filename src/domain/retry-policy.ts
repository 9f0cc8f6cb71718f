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

/**
 * Seed 004 (Agent Factory): "exponential backoff, max 3 retries, 24-hour retry window". The seed
 * gives no delays; 1 h, 4 h and 16 h spread the three retries over the window, so a receiver
 * down for most of a day still gets the event: the last retry is due 21 h after the first
 * attempt, which leaves 3 h for queueing and the four requests' timeouts (at most 4 x 300 s).
 * A first attempt that starts more than about 3 h late loses the last retry to the window,
 * which is what the seed's window means. Quick retries (seconds) would spend all three on one
 * short outage.
 */
export const AGENTFACTORY_RETRY_POLICY: RetryPolicy = {
  strategy: "exponential",
  maxAttempts: 4,
  initialDelayMs: 3_600_000,
  maxDelayMs: 16 * 3_600_000,
  multiplier: 4,
  jitter: 0,
  windowMs: 24 * 3_600_000,
};

/**
 * Named policies for `retry.preset`, after the senders whose behaviour they copy. The name is
 * not stored: the webhook keeps the policy it resolved to, so a preset changed in a later
 * release does not move the schedule of webhooks made before.
 */
export const RETRY_PRESETS = {
  agentfactory: AGENTFACTORY_RETRY_POLICY,
  identus: IDENTUS_RETRY_POLICY,
  systemprompt: DEFAULT_RETRY_POLICY,
} as const satisfies Record<string, RetryPolicy>;

export type RetryPresetName = keyof typeof RETRY_PRESETS;

/** A webhook's `retry` as callers give it: a preset, a partial policy over the current one, or both (fields beside the preset override it). */
export type RetryInput = Partial<RetryPolicy> & { preset?: RetryPresetName };

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

/** `windowMs: null` given removes the window (`??` would keep the base's, so a preset's 24 h could not be lifted). */
function windowOf(raw: Record<string, unknown>, from: RetryPolicy, field: string): number | null {
  const value = raw.windowMs === undefined ? from.windowMs : raw.windowMs;
  return value === null ? null : integerIn(`${field}.windowMs`, value, 1, MAX_WINDOW_MS);
}

/** The policy a `preset` names, or `base` when none is given. */
function presetOrBase(value: unknown, base: RetryPolicy, field: string): RetryPolicy {
  if (value === undefined) return base;
  const names = Object.keys(RETRY_PRESETS);
  if (typeof value !== "string" || !Object.hasOwn(RETRY_PRESETS, value)) {
    throw invalidField(`${field}.preset`, `must be one of ${names.join(", ")}; got ${JSON.stringify(value)}`);
  }
  return RETRY_PRESETS[value as RetryPresetName];
}

/**
 * Merges a partial policy over `base` and checks every number, naming the field at fault. A
 * `preset` replaces `base` first, so `{"preset": "agentfactory", "maxAttempts": 2}` is the
 * preset with two attempts, whatever the webhook had before.
 */
export function resolveRetryPolicy(input: unknown, base: RetryPolicy = DEFAULT_RETRY_POLICY, field = "retry"): RetryPolicy {
  if (input === undefined || input === null) return { ...base };
  if (typeof input !== "object" || Array.isArray(input)) {
    throw invalidField(field, "must be an object like {\"strategy\":\"exponential\",\"maxAttempts\":5} or {\"preset\":\"agentfactory\"}");
  }
  const { preset, ...raw } = input as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!(key in DEFAULT_RETRY_POLICY)) {
      throw invalidField(`${field}.${key}`, `is not a retry setting; use preset or ${Object.keys(DEFAULT_RETRY_POLICY).join(", ")}`);
    }
  }
  const from = presetOrBase(preset, base, field);
  const strategy = raw.strategy ?? from.strategy;
  if (typeof strategy !== "string" || !STRATEGIES.includes(strategy as RetryStrategy)) {
    throw invalidField(`${field}.strategy`, `must be one of ${STRATEGIES.join(", ")}; got ${JSON.stringify(strategy)}`);
  }
  const policy: RetryPolicy = {
    strategy: strategy as RetryStrategy,
    maxAttempts: integerIn(`${field}.maxAttempts`, raw.maxAttempts ?? from.maxAttempts, 1, MAX_ATTEMPTS),
    initialDelayMs: integerIn(`${field}.initialDelayMs`, raw.initialDelayMs ?? from.initialDelayMs, 0, MAX_DELAY_MS),
    maxDelayMs: integerIn(`${field}.maxDelayMs`, raw.maxDelayMs ?? from.maxDelayMs, 0, MAX_DELAY_MS),
    multiplier: numberIn(`${field}.multiplier`, raw.multiplier ?? from.multiplier, 1, 100),
    jitter: numberIn(`${field}.jitter`, raw.jitter ?? from.jitter, 0, 1),
    windowMs: windowOf(raw, from, field),
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
