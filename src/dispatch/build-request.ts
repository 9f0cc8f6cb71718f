/**
 * What the receiver gets (SPEC section 3): the body in the webhook's payload format, Herald's
 * headers, the Standard Webhooks signature (one per valid secret), the webhook's own headers
 * and its auth. The body of a delivery is the same on every attempt; timestamps in headers
 * are the attempt's.
 */
import { LRUCache } from "lru-cache";
import { signBodyHmac, DEFAULT_HMAC_HEADER } from "../signing/body-hmac.js";
import { standardSignatureHeader } from "../signing/standard-webhooks.js";
import type { PayloadFormat, Webhook } from "../domain/types.js";
import { isSensitiveHeader } from "../domain/webhook-input.js";
import { HERALD_VERSION } from "../version.js";
import type { DueDelivery } from "../store/store.js";

export const USER_AGENT = `Herald-Webhooks/${HERALD_VERSION}`;

export interface OutgoingRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * Bodies of recent events, per payload format: every webhook of an event in the same
 * format gets the same bytes, so a 100-way fan-out builds its body once, not 100 times. The
 * `systemprompt` format names the webhook and is built per delivery.
 */
const recentBodies = new LRUCache<string, string>({ max: 4_096 });

/** The body, built from the stored event JSON without parsing it again. */
export function buildBody(format: PayloadFormat, webhookId: string, delivery: DueDelivery): string {
  if (format === "systemprompt") return buildBodyNow(format, webhookId, delivery);
  const key = `${delivery.event.id}:${format}`; // an event belongs to one tenant: its id says whose
  let body = recentBodies.get(key);
  if (body === undefined) {
    body = buildBodyNow(format, webhookId, delivery);
    recentBodies.set(key, body);
  }
  return body;
}

function buildBodyNow(format: PayloadFormat, webhookId: string, delivery: DueDelivery): string {
  const { event } = delivery;
  const ts = JSON.stringify(new Date(event.createdAt).toISOString());
  const type = JSON.stringify(event.type);
  switch (format) {
    case "identus":
      return `{"id":${JSON.stringify(event.id)},"ts":${ts},"type":${type},"data":${event.data},"walletId":${JSON.stringify(delivery.tenantId)}${
        event.metadata === null ? "" : `,"metadata":${event.metadata}`
      }}`;
    case "standard":
      return `{"type":${type},"timestamp":${ts},"data":${event.data}}`;
    case "systemprompt":
      return `{"webhook_id":${JSON.stringify(webhookId)},"event":${type},"timestamp":${ts},"data":${event.data},"metadata":${event.metadata ?? "{}"}}`;
  }
}

/** Secrets that still sign at `now`: the current one and rotated-out ones inside their grace period. */
export function signingSecrets(webhook: Webhook, now: number): string[] {
  return webhook.secrets.filter((s) => s.expiresAt === null || s.expiresAt > now).map((s) => s.secret);
}

export function buildRequest(webhook: Webhook, delivery: DueDelivery, now: number): OutgoingRequest {
  const body = buildBody(webhook.payloadFormat, webhook.id, delivery);
  const seconds = Math.floor(now / 1000);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": USER_AGENT,
    "x-webhook-event": delivery.event.type,
    "x-webhook-id": webhook.id,
    "x-webhook-timestamp": new Date(now).toISOString(),
    "webhook-id": delivery.event.id,
    "webhook-timestamp": String(seconds),
    "webhook-signature": standardSignatureHeader(signingSecrets(webhook, now), delivery.event.id, seconds, body),
  };
  for (const [name, value] of Object.entries(webhook.headers)) headers[name.toLowerCase()] = value;
  const auth = webhook.auth;
  switch (auth.type) {
    case "none":
      break;
    case "bearer":
      headers.authorization = `Bearer ${auth.credentials.token}`;
      break;
    case "basic":
      headers.authorization = `Basic ${Buffer.from(`${auth.credentials.username}:${auth.credentials.password}`).toString("base64")}`;
      break;
    case "api-key":
      headers[auth.credentials.header_name.toLowerCase()] = auth.credentials.api_key;
      break;
    case "hmac":
      headers[(auth.credentials.header_name ?? DEFAULT_HMAC_HEADER).toLowerCase()] = signBodyHmac(auth.credentials.secret, body);
      break;
  }
  return { method: webhook.method, url: webhook.url, headers, body };
}

const SECRET_HEADERS = new Set(["authorization", "webhook-signature", "cookie", "proxy-authorization"]);

/** Header names redacted for each webhook object (the webhook cache hands out the same object until it changes). */
const redactedNames = new WeakMap<Webhook, Set<string>>();

function secretHeaderNames(webhook: Webhook): Set<string> {
  let secret = redactedNames.get(webhook);
  if (secret !== undefined) return secret;
  secret = new Set(SECRET_HEADERS);
  if (webhook.auth.type === "api-key") secret.add(webhook.auth.credentials.header_name.toLowerCase());
  if (webhook.auth.type === "hmac") secret.add((webhook.auth.credentials.header_name ?? DEFAULT_HMAC_HEADER).toLowerCase());
  for (const name of Object.keys(webhook.headers)) {
    if (isSensitiveHeader(name)) secret.add(name.toLowerCase());
  }
  redactedNames.set(webhook, secret);
  return secret;
}

/** Request headers as recorded in an attempt: credentials and signatures redacted. */
export function redactRequestHeaders(webhook: Webhook, headers: Record<string, string>): Record<string, string> {
  const secret = secretHeaderNames(webhook);
  const out: Record<string, string> = {};
  for (const name in headers) out[name] = secret.has(name) ? "[redacted]" : headers[name]!;
  return out;
}
