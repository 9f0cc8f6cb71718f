/**
 * `herald/receiver`: verifies a request Herald (or any Standard Webhooks sender) delivered.
 *
 * Two schemes, matching what Herald signs (src/dispatch/build-request.ts):
 * - Standard Webhooks, always sent: `webhook-id`, `webhook-timestamp` (unix seconds) and
 *   `webhook-signature` (`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, several
 *   space-separated during a secret rotation), keyed with the base64 part of a `whsec_` secret.
 *   Svix's `svix-*` header names are accepted as well.
 * - Body HMAC, sent for webhooks with `auth.type: "hmac"`: `X-Webhook-Signature: sha256=<hex
 *   HMAC-SHA256 of the raw body>` keyed with the secret's UTF-8 bytes, or the header the
 *   webhook names (seed 004's `X-AgentFactory-Signature`); the bare `<hex>` when the webhook
 *   has `signature_format: "hex"`. Both forms verify here. It carries no timestamp, so it
 *   cannot reject replays; prefer the Standard Webhooks signature where you can.
 *
 * Contract: `verifyWebhook` returns a `VerifiedWebhook` when the request is authentic and
 * throws a `WebhookVerificationError` (with a machine-readable `code`) when it is not. It never
 * returns a "failed" result, so a forgotten check cannot let a forged request through.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export type SignatureScheme = "standard-webhooks" | "hmac-sha256";

export type VerificationFailure =
  | "missing_header"
  | "invalid_timestamp"
  | "timestamp_too_old"
  | "timestamp_in_future"
  | "malformed_signature"
  | "signature_mismatch"
  | "invalid_secret";

export class WebhookVerificationError extends Error {
  readonly code: VerificationFailure;
  readonly scheme: SignatureScheme;

  constructor(code: VerificationFailure, scheme: SignatureScheme, message: string) {
    super(message);
    this.name = "WebhookVerificationError";
    this.code = code;
    this.scheme = scheme;
  }
}

export interface VerifyOptions {
  /**
   * `auto` (default): a `whsec_` secret verifies the Standard Webhooks headers, any other
   * secret the body HMAC header. Force a scheme to use, say, a raw base64 Standard Webhooks key.
   */
  scheme?: "auto" | SignatureScheme;
  /** Header carrying the body HMAC (case-insensitive). Default `X-Webhook-Signature`. */
  signatureHeader?: string;
  /** How far `webhook-timestamp` may be from now, either way. Default 300 (5 minutes), as in svix. */
  toleranceSeconds?: number;
  /** The clock, for tests and replays of stored requests. */
  now?: () => Date;
}

export type VerifiedWebhook =
  | {
      scheme: "standard-webhooks";
      /** The event id: stable across retries, so receivers can deduplicate on it. */
      id: string;
      timestamp: Date;
    }
  | {
      scheme: "hmac-sha256";
      /** The header that carried the signature, lower-cased. */
      header: string;
    };

/** Node's `IncomingHttpHeaders`, a plain object, or a fetch `Headers`. */
export type HeaderSource = Record<string, string | string[] | undefined> | { get(name: string): string | null };

export const DEFAULT_SIGNATURE_HEADER = "X-Webhook-Signature";
export const DEFAULT_TOLERANCE_SECONDS = 300;
const WHSEC_PREFIX = "whsec_";

/**
 * Verifies `rawBody` (the exact bytes received, before any JSON parsing) against `headers`
 * with `secret`. Give several secrets to accept any of them (your own rotation).
 */
export function verifyWebhook(
  rawBody: string | Uint8Array,
  headers: HeaderSource,
  secret: string | readonly string[],
  options: VerifyOptions = {},
): VerifiedWebhook {
  const secrets = typeof secret === "string" ? [secret] : [...secret];
  const scheme = chooseScheme(secrets, options.scheme ?? "auto");
  if (secrets.length === 0 || secrets.some((s) => s.length === 0)) {
    throw new WebhookVerificationError("invalid_secret", scheme, "no secret given: pass the webhook's signing secret");
  }
  const body = typeof rawBody === "string" ? Buffer.from(rawBody, "utf8") : Buffer.from(rawBody.buffer, rawBody.byteOffset, rawBody.byteLength);
  const lookup = headerLookup(headers);
  return scheme === "standard-webhooks"
    ? verifyStandardWebhook(body, lookup, secrets, options)
    : verifyBodyHmac(body, lookup, secrets, options.signatureHeader ?? DEFAULT_SIGNATURE_HEADER);
}

function chooseScheme(secrets: readonly string[], wanted: "auto" | SignatureScheme): SignatureScheme {
  if (wanted !== "auto") return wanted;
  return secrets.length > 0 && secrets.every((s) => s.startsWith(WHSEC_PREFIX)) ? "standard-webhooks" : "hmac-sha256";
}

type HeaderLookup = (name: string) => string | undefined;

function headerLookup(headers: HeaderSource): HeaderLookup {
  if (typeof headers.get === "function") {
    const fetchHeaders = headers as { get(name: string): string | null };
    return (name) => fetchHeaders.get(name) ?? undefined;
  }
  const lowered = new Map<string, string>();
  for (const [name, value] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (value === undefined) continue;
    lowered.set(name.toLowerCase(), Array.isArray(value) ? value.join(", ") : value);
  }
  return (name) => lowered.get(name.toLowerCase());
}

function standardKey(secret: string): Buffer {
  const encoded = secret.startsWith(WHSEC_PREFIX) ? secret.slice(WHSEC_PREFIX.length) : secret;
  const key = Buffer.from(encoded, "base64");
  if (key.length === 0) {
    throw new WebhookVerificationError("invalid_secret", "standard-webhooks", "the secret is not whsec_ followed by base64");
  }
  return key;
}

function verifyStandardWebhook(body: Buffer, header: HeaderLookup, secrets: string[], options: VerifyOptions): VerifiedWebhook {
  const fail = (code: VerificationFailure, message: string) => new WebhookVerificationError(code, "standard-webhooks", message);
  // Svix sends the same scheme under svix-* names; accepting both keeps svix senders working.
  const id = header("webhook-id") ?? header("svix-id");
  const timestampText = header("webhook-timestamp") ?? header("svix-timestamp");
  const signatureText = header("webhook-signature") ?? header("svix-signature");
  const missing = [
    id === undefined ? "webhook-id" : null,
    timestampText === undefined ? "webhook-timestamp" : null,
    signatureText === undefined ? "webhook-signature" : null,
  ].filter((name) => name !== null);
  if (id === undefined || timestampText === undefined || signatureText === undefined) {
    throw fail("missing_header", `missing header${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`);
  }
  if (!/^\d{1,12}$/.test(timestampText.trim())) {
    throw fail("invalid_timestamp", `webhook-timestamp ${JSON.stringify(timestampText)} is not unix seconds`);
  }
  const timestamp = Number(timestampText.trim());
  const nowSeconds = Math.floor((options.now?.() ?? new Date()).getTime() / 1000);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (timestamp < nowSeconds - tolerance) {
    throw fail("timestamp_too_old", `webhook-timestamp is ${nowSeconds - timestamp}s old; the tolerance is ${tolerance}s (a replay, or a clock out of sync)`);
  }
  if (timestamp > nowSeconds + tolerance) {
    throw fail("timestamp_in_future", `webhook-timestamp is ${timestamp - nowSeconds}s in the future; the tolerance is ${tolerance}s (clock out of sync)`);
  }

  const offered = signatureText
    .split(" ")
    .filter((part) => part.length > 0)
    .map((part) => {
      const comma = part.indexOf(",");
      return comma < 0 ? null : { version: part.slice(0, comma), value: Buffer.from(part.slice(comma + 1), "base64") };
    });
  const v1 = offered.filter((s) => s !== null && s.version === "v1").map((s) => s!.value);
  if (v1.length === 0) throw fail("malformed_signature", "webhook-signature holds no v1,<base64> signature");

  const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`, "utf8"), body]);
  for (const secret of secrets) {
    const expected = createHmac("sha256", standardKey(secret)).update(signed).digest();
    if (v1.some((candidate) => constantTimeEqual(candidate, expected))) {
      return { scheme: "standard-webhooks", id, timestamp: new Date(timestamp * 1000) };
    }
  }
  throw fail(
    "signature_mismatch",
    `none of the ${v1.length} v1 signature${v1.length > 1 ? "s" : ""} matches: wrong secret, or the body was changed (verify the raw bytes, not re-serialised JSON)`,
  );
}

function verifyBodyHmac(body: Buffer, header: HeaderLookup, secrets: string[], headerName: string): VerifiedWebhook {
  const fail = (code: VerificationFailure, message: string) => new WebhookVerificationError(code, "hmac-sha256", message);
  const value = header(headerName);
  if (value === undefined) throw fail("missing_header", `missing header ${headerName}`);
  // Seed 003/004 send `sha256=<hex>`; the bare digest is what Herald sends with signature_format "hex".
  const hex = value.trim().replace(/^sha256=/i, "");
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw fail("malformed_signature", `${headerName} is neither sha256=<64 hex digits> nor the 64 hex digits alone`);
  }
  const received = Buffer.from(hex, "hex");
  for (const secret of secrets) {
    const expected = createHmac("sha256", secret).update(body).digest();
    if (constantTimeEqual(received, expected)) return { scheme: "hmac-sha256", header: headerName.toLowerCase() };
  }
  throw fail("signature_mismatch", `${headerName} does not match: wrong secret, or the body was changed (verify the raw bytes, not re-serialised JSON)`);
}

/** timingSafeEqual throws on different lengths; a length mismatch is simply "not equal". */
function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
