/**
 * Portal link tokens: `hpl_<claims>.<mac>`, both base64url. The claims are JSON (tenant id, when
 * made, expiry, read-only, a random link id, the tenant's name for the dashboard to show); the MAC is
 * HMAC-SHA256 over everything before the dot, keyed by a key derived from the master key
 * (HKDF-SHA256, its own `info`), so a token is checked with no store read, holds across restarts
 * and in every process that shares the master key, and stops working when that key changes.
 *
 * Nothing in a token is secret: the claims are readable (the dashboard reads the expiry and the
 * tenant from them), only unforgeable. The token itself is the credential, like an API key.
 */
import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";

export const PORTAL_TOKEN_PREFIX = "hpl_";
/** Longer tokens are refused before any work: a real one is a few hundred characters. */
const MAX_TOKEN_LENGTH = 2_048;
const HKDF_INFO = "herald portal links v1";

export interface PortalClaims {
  /** The tenant the link is scoped to. */
  tenantId: string;
  /** The tenant's name when the link was made (shown by the dashboard, never trusted for access). */
  tenantName: string;
  /** Epoch milliseconds when it was made (revoking a tenant's links ends those made until then). */
  issuedAt: number;
  /** Epoch milliseconds after which the link no longer opens anything. */
  expiresAt: number;
  readOnly: boolean;
  /** A random id per link: its own rate-limit allowance, and a name for it in logs. */
  linkId: string;
}

export type PortalTokenCheck =
  | { ok: true; claims: PortalClaims }
  | { ok: false; reason: "forged" | "expired"; claims?: PortalClaims };

/** The portal signing key, derived from the 32-byte master key. */
export function derivePortalKey(masterKey: Buffer): Buffer {
  return Buffer.from(hkdfSync("sha256", masterKey, Buffer.alloc(0), HKDF_INFO, 32));
}

export function isPortalToken(text: string): boolean {
  return text.startsWith(PORTAL_TOKEN_PREFIX);
}

function mac(key: Buffer, signed: string): Buffer {
  return createHmac("sha256", key).update(signed, "utf8").digest();
}

export function signPortalToken(key: Buffer, claims: PortalClaims): string {
  const wire = { v: 1, tid: claims.tenantId, tn: claims.tenantName, iat: claims.issuedAt, exp: claims.expiresAt, ro: claims.readOnly, lid: claims.linkId };
  const signed = PORTAL_TOKEN_PREFIX + Buffer.from(JSON.stringify(wire), "utf8").toString("base64url");
  return `${signed}.${mac(key, signed).toString("base64url")}`;
}

/** Checks the MAC first (in constant time), then reads the claims, then the expiry against `now`. */
export function checkPortalToken(key: Buffer, token: string, now: number): PortalTokenCheck {
  const dot = token.lastIndexOf(".");
  if (!isPortalToken(token) || token.length > MAX_TOKEN_LENGTH || dot < 0) return { ok: false, reason: "forged" };
  const signed = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), "base64url");
  const expected = mac(key, signed);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: "forged" };
  const claims = readClaims(signed.slice(PORTAL_TOKEN_PREFIX.length));
  if (claims === null) return { ok: false, reason: "forged" };
  if (now >= claims.expiresAt) return { ok: false, reason: "expired", claims };
  return { ok: true, claims };
}

/** A signed token always has well-formed claims; this only guards against a future format under the same key. */
function readClaims(encoded: string): PortalClaims | null {
  try {
    const wire = JSON.parse(Buffer.from(encoded, "base64url").toString("utf8")) as Record<string, unknown>;
    const { v, tid, tn, iat, exp, ro, lid } = wire;
    if (v !== 1 || typeof tid !== "string" || typeof tn !== "string" || typeof iat !== "number" || typeof exp !== "number" || typeof ro !== "boolean" || typeof lid !== "string") return null;
    return { tenantId: tid, tenantName: tn, issuedAt: iat, expiresAt: exp, readOnly: ro, linkId: lid };
  } catch {
    return null;
  }
}
