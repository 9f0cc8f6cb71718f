/**
 * The rules for every header a webhook puts on its requests, whichever way it gets there:
 * `headers`, the header an auth type sets (`header_name` of api-key and hmac), Identus
 * `customHeaders`, and the global webhook from the environment all pass through
 * checkHeaderName and checkHeaderValue. And how header values are shown: every custom header
 * value is treated as a secret (masked in API answers, redacted in attempt records) unless the
 * webhook names it in `publicHeaders`.
 */
import { invalidField } from "../errors.js";
import { DEFAULT_HMAC_HEADER } from "../signing/body-hmac.js";
import type { Webhook, WebhookAuth } from "./types.js";

export const MAX_HEADERS = 50;
const MAX_HEADER_NAME = 256;
const MAX_HEADER_VALUE = 4096;
/** An RFC 9110 token. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Anything but an RFC 9110 field-value character: visible ASCII, space, tab and obs-text (0x80-0xFF). */
const NOT_FIELD_VALUE = /[^\t\x20-\x7e\x80-\xff]/u;

/**
 * Set by Herald on every request, or framing the HTTP client owns (undici refuses
 * transfer-encoding, keep-alive, upgrade and expect outright, so every delivery would fail).
 * `user-agent` is not here: a webhook may set its own.
 */
const RESERVED_HEADERS = new Set([
  "host", "content-length", "content-type", "transfer-encoding", "connection", "keep-alive", "upgrade", "expect",
  "webhook-id", "webhook-timestamp", "webhook-signature", "x-webhook-event", "x-webhook-id", "x-webhook-timestamp",
]);

/** Whether Herald owns this header (give it lower-case); build-request also drops these from stored settings. */
export function isReservedHeader(lowerCaseName: string): boolean {
  return RESERVED_HEADERS.has(lowerCaseName);
}

/** The one check for a header name a webhook setting puts on its requests: a valid token, and none of Herald's own. */
export function checkHeaderName(field: string, name: unknown): string {
  if (typeof name !== "string" || name.length > MAX_HEADER_NAME || !HEADER_NAME.test(name)) {
    throw invalidField(field, `is not a valid HTTP header name: 1 to ${MAX_HEADER_NAME} letters, digits or !#$%&'*+-.^_\`|~`);
  }
  if (isReservedHeader(name.toLowerCase())) {
    throw invalidField(field, `${name} is set by Herald on every request and cannot be overridden; choose another header name`);
  }
  return name;
}

/** The one check for a header value a webhook setting puts on its requests, so the receiver gets it exactly as given. */
export function checkHeaderValue(field: string, value: unknown): string {
  if (typeof value !== "string" || value.length > MAX_HEADER_VALUE) {
    throw invalidField(field, `must be a string of at most ${MAX_HEADER_VALUE} characters`);
  }
  const bad = NOT_FIELD_VALUE.exec(value);
  if (bad) {
    const codePoint = `U+${bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
    throw invalidField(
      field,
      `holds ${codePoint} at position ${bad.index}, which an HTTP header cannot carry; use visible ASCII, space, tab or Latin-1 (U+0080 to U+00FF) characters only`,
    );
  }
  return value;
}

export function checkHeaders(value: unknown, field = "headers"): Record<string, string> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalidField(field, "must be a JSON object");
  const entries = Object.entries(value);
  if (entries.length > MAX_HEADERS) throw invalidField(field, `may hold at most ${MAX_HEADERS} headers`);
  const seen = new Map<string, string>();
  for (const [name, headerValue] of entries) {
    checkHeaderName(`${field}.${name}`, name);
    const earlier = seen.get(name.toLowerCase());
    if (earlier !== undefined) {
      throw invalidField(`${field}.${name}`, `repeats ${field}.${earlier}: header names are case-insensitive; keep one of them`);
    }
    seen.set(name.toLowerCase(), name);
    checkHeaderValue(`${field}.${name}`, headerValue);
  }
  // fromEntries, not assignment: a header named __proto__ stays a header.
  return Object.fromEntries(entries) as Record<string, string>;
}

/** The header the webhook's auth sets on every request, lower-case; null for none. */
export function authHeaderName(auth: WebhookAuth): string | null {
  switch (auth.type) {
    case "none":
      return null;
    case "bearer":
    case "basic":
    case "oauth2":
      return "authorization";
    case "api-key":
      return auth.credentials.header_name.toLowerCase();
    case "hmac":
      return (auth.credentials.header_name ?? DEFAULT_HMAC_HEADER).toLowerCase();
  }
}

/**
 * A custom header may not name the header the webhook's own auth sets: one of the two would be
 * lost on every request. The error names the side the caller just set (`headersChanged`).
 */
export function assertAuthHeaderFree(webhook: Pick<Webhook, "headers" | "auth">, headersChanged: boolean): void {
  const authHeader = authHeaderName(webhook.auth);
  const clash = authHeader === null ? undefined : Object.keys(webhook.headers).find((name) => name.toLowerCase() === authHeader);
  if (clash === undefined) return;
  if (headersChanged) {
    throw invalidField(`headers.${clash}`, `is the header auth ${webhook.auth.type} sets on every request; remove it from headers or change auth`);
  }
  const field = webhook.auth.type === "api-key" || webhook.auth.type === "hmac" ? "auth.credentials.header_name" : "auth.type";
  throw invalidField(field, `auth ${webhook.auth.type} sets the ${clash} header, which headers.${clash} sets too; remove one of them`);
}

/** `publicHeaders`: names of the webhook's own headers (any case) whose values may be shown. */
export function checkPublicHeaders(value: unknown, headers: Record<string, string>): string[] {
  if (!Array.isArray(value) || value.length > MAX_HEADERS) {
    throw invalidField("publicHeaders", `must be a list of at most ${MAX_HEADERS} names of headers in headers`);
  }
  const present = new Set(Object.keys(headers).map((name) => name.toLowerCase()));
  const listed = new Set<string>();
  const names: string[] = [];
  value.forEach((name: unknown, i) => {
    if (typeof name !== "string" || !present.has(name.toLowerCase())) {
      throw invalidField(`publicHeaders[${i}]`, `${JSON.stringify(name)} is not a header in headers; list only names of this webhook's headers`);
    }
    if (!listed.has(name.toLowerCase())) names.push(name);
    listed.add(name.toLowerCase());
  });
  return names;
}

/** The public names still among `headers` after they changed: a header removed is no longer listed. */
export function keptPublicHeaders(publicHeaders: readonly string[] | undefined, headers: Record<string, string>): string[] {
  const present = new Set(Object.keys(headers).map((name) => name.toLowerCase()));
  return (publicHeaders ?? []).filter((name) => present.has(name.toLowerCase()));
}

/** The lower-case names of the headers whose values may be shown. */
export function publicHeaderNames(webhook: Pick<Webhook, "publicHeaders">): Set<string> {
  return new Set((webhook.publicHeaders ?? []).map((name) => name.toLowerCase()));
}

/** What an attempt record holds instead of a secret header's value. */
export const REDACTED = "[redacted]";

export function mask(value: string): string {
  return value.length <= 8 ? "****" : `****${value.slice(-4)}`;
}

/** The webhook's headers as API answers show them: every value masked except those in publicHeaders. */
export function shownHeaders(webhook: Pick<Webhook, "headers" | "publicHeaders">): Record<string, string> {
  const shown = publicHeaderNames(webhook);
  return Object.fromEntries(Object.entries(webhook.headers).map(([name, value]) => [name, shown.has(name.toLowerCase()) ? value : mask(value)]));
}

/**
 * Headers a caller read back (masked) and sent back unchanged keep their stored values, so a
 * read-modify-write update (the dashboard's form) cannot replace a secret with its mask.
 */
export function keepMaskedValues(headers: Record<string, string>, current: Pick<Webhook, "headers" | "publicHeaders">): Record<string, string> {
  const shown = shownHeaders(current);
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [name, value === shown[name] && Object.hasOwn(current.headers, name) ? current.headers[name]! : value]),
  );
}

const SENSITIVE_HEADER = /authorization|token|secret|key|cookie|signature|password/i;

/**
 * Masks a header value whose name says it carries a credential. Only for attempt records made
 * before every custom header was redacted when recorded (build-request.ts); webhooks use shownHeaders.
 */
export function maskIfSensitive(name: string, value: string): string {
  return SENSITIVE_HEADER.test(name) ? mask(value) : value;
}
