/**
 * What the receiver gets (SPEC section 3): the body in the webhook's payload format, Herald's
 * headers, the Standard Webhooks signature (one per valid secret), the webhook's own headers
 * and its auth. The body of a delivery is the same on every attempt; timestamps in headers
 * are the attempt's.
 */
import { LRUCache } from "lru-cache";
import { signBodyHmac } from "../signing/body-hmac.js";
import { standardSignatureHeader } from "../signing/standard-webhooks.js";
import type { PayloadFormat, Webhook, WebhookAuth } from "../domain/types.js";
import { REDACTED, authHeaderName, isReservedHeader, publicHeaderNames } from "../domain/webhook-headers.js";
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
    case "prism":
      // Seed 000's PRISM Agent: `eventType` where Identus 1.x says `type`, and no walletId or metadata.
      return `{"id":${JSON.stringify(event.id)},"ts":${ts},"eventType":${type},"data":${event.data}}`;
    case "standard":
      return `{"type":${type},"timestamp":${ts},"data":${event.data}}`;
    case "agentfactory":
      return `{"event":${type},"timestamp":${JSON.stringify(secondsTimestamp(event.createdAt))},"data":${event.data}}`;
    case "svix":
      return event.data;
    case "systemprompt":
      return `{"webhook_id":${JSON.stringify(webhookId)},"event":${type},"timestamp":${ts},"data":${event.data},"metadata":${event.metadata ?? "{}"}}`;
  }
}

/** Seed 004's examples write whole seconds (`2024-01-15T10:30:00Z`), not milliseconds. */
function secondsTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Secrets that still sign at `now`: the current one and rotated-out ones inside their grace period. */
export function signingSecrets(webhook: Webhook, now: number): string[] {
  return webhook.secrets.filter((s) => s.expiresAt === null || s.expiresAt > now).map((s) => s.secret);
}

/**
 * Headers in this order: the webhook's own (which may replace the user-agent), then its auth,
 * then Herald's. Herald's come last and the framing ones are never taken from the webhook, so
 * a row stored before a rule existed still cannot forge a signature or break every request.
 */
export function buildRequest(webhook: Webhook, delivery: DueDelivery, now: number, oauth2Token?: string): OutgoingRequest {
  const body = buildBody(webhook.payloadFormat, webhook.id, delivery);
  const seconds = Math.floor(now / 1000);
  const headers: Record<string, string> = { "user-agent": USER_AGENT };
  for (const [name, value] of Object.entries(webhook.headers)) {
    const lower = name.toLowerCase();
    if (!isReservedHeader(lower)) headers[lower] = value;
  }
  const authName = authHeaderName(webhook.auth);
  const authValue = authHeaderValue(webhook.auth, body, oauth2Token);
  if (authName !== null && authValue !== null && !isReservedHeader(authName)) headers[authName] = authValue;
  headers["content-type"] = "application/json";
  headers["x-webhook-event"] = delivery.event.type;
  headers["x-webhook-id"] = webhook.id;
  headers["x-webhook-timestamp"] = new Date(now).toISOString();
  headers["webhook-id"] = delivery.event.id;
  headers["webhook-timestamp"] = String(seconds);
  headers["webhook-signature"] = standardSignatureHeader(signingSecrets(webhook, now), delivery.event.id, seconds, body);
  return { method: webhook.method, url: webhook.url, headers, body };
}

/** The value of the header named by authHeaderName; oauth2's token was fetched beforehand (oauth2-tokens.ts). */
function authHeaderValue(auth: WebhookAuth, body: string, oauth2Token: string | undefined): string | null {
  switch (auth.type) {
    case "none":
      return null;
    case "bearer":
      return `Bearer ${auth.credentials.token}`;
    case "basic":
      return `Basic ${Buffer.from(`${auth.credentials.username}:${auth.credentials.password}`).toString("base64")}`;
    case "api-key":
      return auth.credentials.api_key;
    case "hmac":
      return signBodyHmac(auth.credentials.secret, body, auth.credentials.signature_format);
    case "oauth2":
      return oauth2Token === undefined ? null : `Bearer ${oauth2Token}`;
  }
}

const SECRET_HEADERS = new Set(["authorization", "webhook-signature", "cookie", "proxy-authorization"]);

/** Header names redacted for each webhook object (the webhook cache hands out the same object until it changes). */
const redactedNames = new WeakMap<Webhook, Set<string>>();

/** Every custom header is a secret unless the webhook lists it in publicHeaders; so is the auth header, always. */
function secretHeaderNames(webhook: Webhook): Set<string> {
  let secret = redactedNames.get(webhook);
  if (secret !== undefined) return secret;
  secret = new Set(SECRET_HEADERS);
  const shown = publicHeaderNames(webhook);
  for (const name of Object.keys(webhook.headers)) {
    if (!shown.has(name.toLowerCase())) secret.add(name.toLowerCase());
  }
  const authName = authHeaderName(webhook.auth);
  if (authName !== null) secret.add(authName);
  redactedNames.set(webhook, secret);
  return secret;
}

/** Request headers as recorded in an attempt: credentials, signatures and custom headers not in publicHeaders redacted. */
export function redactRequestHeaders(webhook: Webhook, headers: Record<string, string>): Record<string, string> {
  const secret = secretHeaderNames(webhook);
  const out: Record<string, string> = {};
  for (const name in headers) out[name] = secret.has(name) ? REDACTED : headers[name]!;
  return out;
}
