/**
 * What an attempt's result means for its delivery and its webhook (SPEC sections 3-4):
 * 2xx succeeds; 410 Gone gives up and disables the webhook; 429/503 honour Retry-After,
 * bounded by the policy's maximum delay; everything else is retried by the policy until
 * attempts or the window run out.
 */
import { nextAttemptAt } from "../domain/retry-policy.js";
import type { Webhook } from "../domain/types.js";
import type { SendResult } from "./send-request.js";

export interface Decision {
  state: "succeeded" | "failed" | "pending";
  nextAttemptAt: number | null;
  /** Set when the receiver asked, with 410 Gone, never to be called again. */
  disableWebhook: string | null;
}

/** Retry-After as seconds or an HTTP date, in ms from `now`; null when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number): number | null {
  if (value === undefined || value.trim() === "") return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(at - now, 0);
}

export function decideOutcome(
  webhook: Webhook,
  result: SendResult,
  attemptNumber: number,
  deliveryCreatedAt: number,
  now: number,
): Decision {
  const status = result.status;
  if (status !== null && status >= 200 && status < 300) return { state: "succeeded", nextAttemptAt: null, disableWebhook: null };
  if (status === 410) {
    return { state: "failed", nextAttemptAt: null, disableWebhook: "the receiver answered 410 Gone" };
  }
  const retryAfter = status === 429 || status === 503 ? parseRetryAfter(result.headers["retry-after"], now) : null;
  const next = nextAttemptAt(webhook.retry, attemptNumber, deliveryCreatedAt, now, retryAfter);
  return next === null
    ? { state: "failed", nextAttemptAt: null, disableWebhook: null }
    : { state: "pending", nextAttemptAt: next, disableWebhook: null };
}
