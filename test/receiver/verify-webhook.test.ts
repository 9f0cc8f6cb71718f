import { Webhook as StandardWebhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";
import { describe, expect, it } from "vitest";
import { buildRequest } from "../../src/dispatch/build-request.js";
import { buildWebhook } from "../../src/domain/webhook-input.js";
import { verifyWebhook, WebhookVerificationError, type VerifyOptions } from "../../src/receiver/index.js";
import { signBodyHmac } from "../../src/signing/body-hmac.js";
import { generateSigningSecret } from "../../src/signing/standard-webhooks.js";
import type { DueDelivery } from "../../src/store/store.js";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const BODY = JSON.stringify({ type: "agent.started", data: { agent_id: "a1", note: "héllo" } });
const MSG_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W";

function failure(run: () => unknown): WebhookVerificationError {
  try {
    run();
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error;
    throw error;
  }
  throw new Error("expected verification to fail, but it passed");
}

function standardHeaders(secret = SECRET, body = BODY, at = new Date()) {
  return {
    "webhook-id": MSG_ID,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": new StandardWebhook(secret).sign(MSG_ID, at, body),
  };
}

/** What Herald's dispatcher sends for one delivery, built by the real request builder. */
function heraldRequest(options: { auth?: unknown; rotatedSecret?: string; now?: number } = {}) {
  const now = options.now ?? Date.now();
  const webhook = buildWebhook(
    { url: "https://example.com/hook", secret: SECRET, ...(options.auth ? { auth: options.auth as never } : {}) },
    { tenantId: "00000000-0000-0000-0000-000000000000", now },
  );
  if (options.rotatedSecret) webhook.secrets = [{ secret: options.rotatedSecret, expiresAt: null }, { secret: SECRET, expiresAt: now + 60_000 }];
  const delivery: DueDelivery = {
    id: "d1",
    webhookId: webhook.id,
    tenantId: "00000000-0000-0000-0000-000000000000",
    attemptCount: 0,
    createdAt: now,
    dueAt: now,
    event: { id: "0190a1b2-0000-7000-8000-000000000001", type: "custom", data: '{"message":"test","n":1}', metadata: null, createdAt: now },
  };
  return buildRequest(webhook, delivery, now);
}

describe("verifyWebhook: Standard Webhooks", () => {
  it("accepts a request signed by the standardwebhooks package", () => {
    const at = new Date();
    const result = verifyWebhook(BODY, standardHeaders(SECRET, BODY, at), SECRET);
    expect(result).toEqual({ scheme: "standard-webhooks", id: MSG_ID, timestamp: new Date(Math.floor(at.getTime() / 1000) * 1000) });
  });

  it("accepts a request signed by the svix package under svix-* header names", () => {
    const at = new Date();
    const headers = {
      "svix-id": MSG_ID,
      "svix-timestamp": String(Math.floor(at.getTime() / 1000)),
      "svix-signature": new SvixWebhook(SECRET).sign(MSG_ID, at, BODY),
    };
    expect(verifyWebhook(BODY, headers, SECRET).scheme).toBe("standard-webhooks");
  });

  it("accepts exactly what Herald's dispatcher sends, and so do the standardwebhooks and svix packages", () => {
    const request = heraldRequest();
    expect(verifyWebhook(request.body, request.headers, SECRET)).toMatchObject({ scheme: "standard-webhooks", id: request.headers["webhook-id"] });
    expect(new StandardWebhook(SECRET).verify(request.body, request.headers)).toEqual(JSON.parse(request.body));
    expect(new SvixWebhook(SECRET).verify(request.body, request.headers)).toEqual(JSON.parse(request.body));
  });

  it("accepts either secret while a rotation's grace period puts two signatures in the header", () => {
    const newSecret = generateSigningSecret();
    const request = heraldRequest({ rotatedSecret: newSecret });
    expect(request.headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    expect(verifyWebhook(request.body, request.headers, newSecret).scheme).toBe("standard-webhooks");
    expect(verifyWebhook(request.body, request.headers, SECRET).scheme).toBe("standard-webhooks");
  });

  it("takes the body as a Buffer and the headers as a fetch Headers object", () => {
    const headers = new Headers(standardHeaders());
    expect(verifyWebhook(Buffer.from(BODY), headers, SECRET).scheme).toBe("standard-webhooks");
  });

  it("rejects a request signed with another secret as signature_mismatch", () => {
    const error = failure(() => verifyWebhook(BODY, standardHeaders(generateSigningSecret()), SECRET));
    expect(error.code).toBe("signature_mismatch");
    expect(error.message).toMatch(/wrong secret, or the body was changed/);
  });

  it("rejects a tampered body as signature_mismatch", () => {
    const headers = standardHeaders();
    const error = failure(() => verifyWebhook(BODY.replace("a1", "a2"), headers, SECRET));
    expect(error.code).toBe("signature_mismatch");
  });

  it("rejects a body re-serialised with different whitespace, since only the raw bytes verify", () => {
    const headers = standardHeaders();
    expect(failure(() => verifyWebhook(JSON.stringify(JSON.parse(BODY), null, 2), headers, SECRET)).code).toBe("signature_mismatch");
  });

  it("rejects a timestamp older than the 5-minute tolerance as timestamp_too_old", () => {
    const sixMinutesAgo = new Date(Date.now() - 6 * 60_000);
    const error = failure(() => verifyWebhook(BODY, standardHeaders(SECRET, BODY, sixMinutesAgo), SECRET));
    expect(error.code).toBe("timestamp_too_old");
    expect(error.message).toMatch(/tolerance is 300s/);
  });

  it("accepts a four-minute-old timestamp, and an old one when the tolerance is widened", () => {
    const fourMinutesAgo = new Date(Date.now() - 4 * 60_000);
    expect(verifyWebhook(BODY, standardHeaders(SECRET, BODY, fourMinutesAgo), SECRET).scheme).toBe("standard-webhooks");
    const hourAgo = new Date(Date.now() - 3_600_000);
    const options: VerifyOptions = { toleranceSeconds: 7200 };
    expect(verifyWebhook(BODY, standardHeaders(SECRET, BODY, hourAgo), SECRET, options).scheme).toBe("standard-webhooks");
  });

  it("rejects a timestamp more than 5 minutes ahead as timestamp_in_future", () => {
    const later = new Date(Date.now() + 10 * 60_000);
    expect(failure(() => verifyWebhook(BODY, standardHeaders(SECRET, BODY, later), SECRET)).code).toBe("timestamp_in_future");
  });

  it("rejects a non-numeric timestamp as invalid_timestamp", () => {
    const headers = { ...standardHeaders(), "webhook-timestamp": "2024-01-01T00:00:00Z" };
    expect(failure(() => verifyWebhook(BODY, headers, SECRET)).code).toBe("invalid_timestamp");
  });

  it("rejects missing headers as missing_header and names each one", () => {
    const error = failure(() => verifyWebhook(BODY, { "content-type": "application/json" }, SECRET));
    expect(error.code).toBe("missing_header");
    expect(error.message).toBe("missing headers webhook-id, webhook-timestamp, webhook-signature");
    const { "webhook-signature": _dropped, ...withoutSignature } = standardHeaders();
    expect(failure(() => verifyWebhook(BODY, withoutSignature, SECRET)).message).toBe("missing header webhook-signature");
  });

  it("rejects a signature header with no v1 entry as malformed_signature", () => {
    const headers = { ...standardHeaders(), "webhook-signature": "v1a,abcdef" };
    expect(failure(() => verifyWebhook(BODY, headers, SECRET)).code).toBe("malformed_signature");
  });

  it("treats a v1 signature of the wrong length as a mismatch rather than crashing timingSafeEqual", () => {
    const headers = { ...standardHeaders(), "webhook-signature": "v1,c2hvcnQ=" };
    expect(failure(() => verifyWebhook(BODY, headers, SECRET)).code).toBe("signature_mismatch");
  });

  it("verifies with a raw base64 key (no whsec_ prefix) when the scheme is forced, as the standardwebhooks package does", () => {
    const rawKey = SECRET.slice("whsec_".length);
    const headers = standardHeaders(SECRET);
    expect(verifyWebhook(BODY, headers, rawKey, { scheme: "standard-webhooks" }).scheme).toBe("standard-webhooks");
    expect(new StandardWebhook(rawKey).verify(BODY, headers)).toEqual(JSON.parse(BODY));
  });
});

describe("verifyWebhook: body HMAC (X-Webhook-Signature: sha256=)", () => {
  it("accepts Herald's hmac auth header for a webhook with auth type hmac", () => {
    const request = heraldRequest({ auth: { type: "hmac", credentials: { secret: "shared-secret" } } });
    expect(request.headers["x-webhook-signature"]).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifyWebhook(request.body, request.headers, "shared-secret")).toEqual({ scheme: "hmac-sha256", header: "x-webhook-signature" });
  });

  it("reads a named header such as seed 004's X-AgentFactory-Signature", () => {
    const request = heraldRequest({ auth: { type: "hmac", credentials: { secret: "af-secret", header_name: "X-AgentFactory-Signature" } } });
    const result = verifyWebhook(request.body, request.headers, "af-secret", { signatureHeader: "X-AgentFactory-Signature" });
    expect(result).toEqual({ scheme: "hmac-sha256", header: "x-agentfactory-signature" });
  });

  it("accepts a bare hex digest without the sha256= prefix", () => {
    const hex = signBodyHmac("shared-secret", BODY).slice("sha256=".length);
    expect(verifyWebhook(BODY, { "X-Webhook-Signature": hex }, "shared-secret").scheme).toBe("hmac-sha256");
  });

  it("rejects another secret and a tampered body as signature_mismatch", () => {
    const headers = { "x-webhook-signature": signBodyHmac("shared-secret", BODY) };
    expect(failure(() => verifyWebhook(BODY, headers, "other-secret")).code).toBe("signature_mismatch");
    expect(failure(() => verifyWebhook(BODY + " ", headers, "shared-secret")).code).toBe("signature_mismatch");
  });

  it("rejects a request without the header as missing_header naming it", () => {
    const error = failure(() => verifyWebhook(BODY, {}, "shared-secret", { signatureHeader: "X-AgentFactory-Signature" }));
    expect(error).toMatchObject({ code: "missing_header", scheme: "hmac-sha256", message: "missing header X-AgentFactory-Signature" });
  });

  it("rejects a value that is not sha256=<64 hex digits> as malformed_signature", () => {
    expect(failure(() => verifyWebhook(BODY, { "x-webhook-signature": "sha1=abc" }, "shared-secret")).code).toBe("malformed_signature");
  });

  it("refuses an empty secret as invalid_secret instead of verifying with an empty key", () => {
    expect(failure(() => verifyWebhook(BODY, { "x-webhook-signature": signBodyHmac("", BODY) }, "")).code).toBe("invalid_secret");
  });
});
