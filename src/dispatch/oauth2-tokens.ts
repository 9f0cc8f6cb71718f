/**
 * OAuth2 client credentials (RFC 6749 section 4.4) for webhooks whose auth is `oauth2`: the
 * dispatcher asks here for a token before it builds the request, and sends it as
 * `Authorization: Bearer <token>`. Only those webhooks come here; every other delivery builds its
 * request as before, with no await in between.
 *
 * - The token request is a form-encoded POST (`grant_type=client_credentials`, `scope`,
 *   `audience`), the client authenticated with HTTP Basic (`client_secret_basic`, the default) or
 *   in the body (`client_secret_post`). It goes through the deliveries' own sender, so the SSRF
 *   guard checks the address it dials, and is bounded by the webhook's timeout, at most
 *   TOKEN_TIMEOUT_MS.
 * - One token per webhook, in memory, keyed by the credentials: a webhook whose credentials
 *   change asks anew. It is used until TOKEN_EXPIRY_MARGIN_MS (at most a tenth of its lifetime)
 *   before `expires_in` runs out; without `expires_in`, for DEFAULT_TOKEN_LIFETIME_MS.
 * - Attempts that need a token while one is being fetched wait for that fetch (single-flight).
 * - A receiver's 401 drops the token it was sent (`forget`): the next attempt fetches a new one.
 * - A failed token request is not cached: the attempt is recorded as failed (error class `auth`,
 *   the reason in its message), the receiver is not called, and the delivery's retry policy
 *   schedules the next attempt, which asks again.
 *
 * Tokens are never logged or recorded: attempt records redact `Authorization`.
 */
import { LRUCache } from "lru-cache";
import type { EgressTarget } from "./egress.js";
import type { OAuth2Credentials, Webhook } from "../domain/types.js";
import { USER_AGENT } from "./build-request.js";
import { RECORDED_BODY_BYTES, type Sender, type SendResult } from "./send-request.js";

/** How long before its expiry a token is replaced, so it never expires on its way to the receiver. */
export const TOKEN_EXPIRY_MARGIN_MS = 30_000;
/** The lifetime assumed for a token issued without `expires_in` (RFC 6749 leaves it to the server). */
export const DEFAULT_TOKEN_LIFETIME_MS = 5 * 60_000;
/** A longer `expires_in` is cut to this: a token is asked for again at least daily. */
export const MAX_TOKEN_LIFETIME_MS = 24 * 3_600_000;
/** The token request's bound, when the webhook's own timeout is longer. */
export const TOKEN_TIMEOUT_MS = 10_000;
/** Webhooks with a token kept; past this the least recently used is dropped (and fetched again when needed). */
const MAX_CACHED_TOKENS = 10_000;

/** A token to send, or the failed attempt's result when none could be got. */
export type OAuth2Authorization = { token: string; failure?: undefined } | { token?: undefined; failure: SendResult };

interface TokenEntry {
  /** The credentials the token was issued for (credentialsKey). */
  key: string;
  token: string | null;
  usableUntil: number;
  /** The fetch under way, which every attempt needing a token meanwhile awaits. */
  pending: Promise<OAuth2Authorization> | null;
}

/** The webhook cache hands out the same credentials object until the webhook changes: its key is made once. */
const keys = new WeakMap<OAuth2Credentials, string>();

function credentialsKey(credentials: OAuth2Credentials): string {
  let key = keys.get(credentials);
  if (key === undefined) {
    const { token_url, client_id, client_secret, scope, audience, auth_method } = credentials;
    key = JSON.stringify([token_url, client_id, client_secret, scope ?? null, audience ?? null, auth_method ?? null]);
    keys.set(credentials, key);
  }
  return key;
}

export class OAuth2Tokens {
  private readonly tokens = new LRUCache<string, TokenEntry>({ max: MAX_CACHED_TOKENS });

  constructor(private readonly sender: Sender) {}

  /** The webhook's token: kept, being fetched, or fetched now. Never rejects. */
  authorize(webhook: Webhook, credentials: OAuth2Credentials): Promise<OAuth2Authorization> {
    const key = credentialsKey(credentials);
    const kept = this.tokens.get(webhook.id);
    if (kept !== undefined && kept.key === key) {
      if (kept.pending !== null) return kept.pending;
      if (kept.token !== null && Date.now() < kept.usableUntil) return Promise.resolve({ token: kept.token });
    }
    const entry: TokenEntry = { key, token: null, usableUntil: 0, pending: null };
    const requestedAt = Date.now();
    // Through the webhook's egress proxy, if it has one (a static egress IP is for every request it
    // makes); its client certificate is for the receiver, not the token server.
    const route = { id: `${webhook.id}#oauth2`, url: credentials.token_url, proxyUrl: webhook.proxyUrl ?? null, tls: null };
    entry.pending = requestToken(this.sender, credentials, Math.min(webhook.timeoutMs, TOKEN_TIMEOUT_MS), route).then((outcome) => {
      entry.pending = null;
      const current = this.tokens.get(webhook.id) === entry;
      if ("failure" in outcome) {
        if (current) this.tokens.delete(webhook.id);
        return { failure: outcome.failure };
      }
      entry.token = outcome.token;
      entry.usableUntil = requestedAt + outcome.lifetimeMs - Math.min(TOKEN_EXPIRY_MARGIN_MS, outcome.lifetimeMs / 10);
      return { token: outcome.token };
    });
    this.tokens.set(webhook.id, entry);
    return entry.pending;
  }

  /** The receiver refused this token (401): the webhook's next attempt fetches a new one. */
  forget(webhookId: string, token: string): void {
    if (this.tokens.get(webhookId)?.token === token) this.tokens.delete(webhookId);
  }
}

type TokenOutcome = { token: string; lifetimeMs: number } | { failure: SendResult };

/** RFC 6749 appendix B: the client id and secret are form-encoded before they go into HTTP Basic. */
function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, "+").replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

async function requestToken(sender: Sender, credentials: OAuth2Credentials, timeoutMs: number, route: EgressTarget): Promise<TokenOutcome> {
  const form = new URLSearchParams({ grant_type: "client_credentials" });
  if (credentials.scope !== undefined) form.set("scope", credentials.scope);
  if (credentials.audience !== undefined) form.set("audience", credentials.audience);
  const headers: Record<string, string> = {
    "user-agent": USER_AGENT,
    "content-type": "application/x-www-form-urlencoded",
    accept: "application/json",
  };
  if (credentials.auth_method === "client_secret_post") {
    form.set("client_id", credentials.client_id);
    form.set("client_secret", credentials.client_secret);
  } else {
    const pair = `${formEncode(credentials.client_id)}:${formEncode(credentials.client_secret)}`;
    headers.authorization = `Basic ${Buffer.from(pair).toString("base64")}`;
  }
  const result = await sender.send({ method: "POST", url: credentials.token_url, headers, body: form.toString() }, timeoutMs, route);
  const where = `OAuth2 token request to ${shownUrl(credentials.token_url)}`;
  const fail = (reason: string): TokenOutcome => ({
    failure: {
      status: null, headers: {}, body: "", durationMs: result.durationMs, errorClass: "auth",
      errorMessage: `${where} ${reason}; the receiver was not called`,
    },
  });
  if (result.status === null) {
    const reason = result.errorClass === "timeout" ? `got no complete answer within ${timeoutMs.toLocaleString("en-US")} ms` : `failed (${result.errorClass}): ${result.errorMessage}`;
    return fail(reason);
  }
  if (result.status < 200 || result.status >= 300) return fail(`answered ${result.status}: ${errorOf(result.body)}`);
  let answer: unknown;
  try {
    answer = JSON.parse(result.body);
  } catch {
    // Never quoted: a 2xx answer may hold a token even when Herald cannot read it (cut at the sender's limit).
    const bytes = Buffer.byteLength(result.body);
    return fail(
      bytes >= RECORDED_BODY_BYTES
        ? `answered ${result.status} with more than ${RECORDED_BODY_BYTES.toLocaleString("en-US")} bytes, more than Herald reads of a token answer`
        : `answered ${result.status} with a body that is not JSON (${bytes} bytes)`,
    );
  }
  const { access_token: token, token_type: tokenType, expires_in: expiresIn } = (answer ?? {}) as Record<string, unknown>;
  if (typeof token !== "string" || token === "") return fail(`answered ${result.status} without an access_token`);
  // Visible ASCII only: anything else could not go into the Authorization header (RFC 6750 b64token is narrower still).
  if (!/^[\x21-\x7e]+$/.test(token)) return fail(`answered ${result.status} with an access_token that cannot go into an HTTP header`);
  if (tokenType !== undefined && (typeof tokenType !== "string" || tokenType.toLowerCase() !== "bearer")) {
    return fail(`issued a token of type ${JSON.stringify(tokenType)}; Herald sends Bearer tokens only`);
  }
  return { token, lifetimeMs: lifetimeOf(expiresIn) };
}

/** `expires_in` in seconds (some servers send it as a string); DEFAULT_TOKEN_LIFETIME_MS when absent or unreadable. */
function lifetimeOf(expiresIn: unknown): number {
  const seconds = typeof expiresIn === "string" && /^\d+(\.\d+)?$/.test(expiresIn.trim()) ? Number(expiresIn) : expiresIn;
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds <= 0) return DEFAULT_TOKEN_LIFETIME_MS;
  return Math.min(seconds * 1000, MAX_TOKEN_LIFETIME_MS);
}

/** RFC 6749 section 5.2's `error` and `error_description` when the body has them, else the body's start. */
function errorOf(body: string): string {
  try {
    const { error, error_description: description } = JSON.parse(body) as Record<string, unknown>;
    if (typeof error === "string") return typeof description === "string" ? `${error} (${excerpt(description)})` : error;
  } catch {
    // not JSON: shown as text
  }
  return body.trim() === "" ? "no body" : excerpt(body);
}

function excerpt(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
}

/** The token URL without its query, which could carry something secret. */
function shownUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}
