/**
 * Tenant portal links: a short-lived signed token that opens the dashboard (and the API) as one
 * tenant, with that tenant's API key's rights or read-only. Tokens are stateless
 * (src/secrets/portal-token.ts): no link is stored, so links are not revoked one by one. A link
 * ends at its expiry, when its tenant's links are revoked (every link made until then), when its
 * tenant is deleted, or when the master key changes. Checking one reads the tenant's row and its
 * revocation time in one query; the API caches the answer for a few seconds.
 */
import { randomBytes } from "node:crypto";
import { invalidField, notFound } from "../errors.js";
import { checkPortalToken, signPortalToken } from "../secrets/portal-token.js";
import type { EngineContext } from "./context.js";

export const PORTAL_LINK_DEFAULT_SECONDS = 3_600;
/** Svix's longest app-portal session (7 days), so every expiry a Svix client asks for is honoured. */
export const PORTAL_LINK_MAX_SECONDS = 7 * 86_400;
/** The tenant's name rides in the token for the dashboard to show; a long one is cut. */
const SHOWN_NAME_LENGTH = 100;

export interface PortalLinkOptions {
  /** Seconds until the link stops working: 1 to PORTAL_LINK_MAX_SECONDS, default one hour. */
  expiresInSeconds?: number;
  /** Reads only: every request that would change something answers 403. */
  readOnly?: boolean;
}

export interface PortalLink {
  tenantId: string;
  /** The credential itself: goes in the URL fragment (`#portal=`) or in `Authorization: Bearer`. */
  token: string;
  expiresAt: number;
  readOnly: boolean;
}

export type PortalAccess =
  | { ok: true; tenantId: string; readOnly: boolean; expiresAt: number; linkId: string }
  | { ok: false; reason: "forged" | "expired" | "revoked" | "tenant-gone"; detail: string };

export interface PortalLinkService {
  /** A link for an existing tenant. */
  issue(tenantId: string, options?: PortalLinkOptions): Promise<PortalLink>;
  /** What a token opens now: its tenant and rights, or why it opens nothing. */
  check(token: string): Promise<PortalAccess>;
  /** Ends every link of the tenant made until now; links made afterwards work. Answers the time recorded. */
  revokeAll(tenantId: string): Promise<{ revokedBefore: number }>;
}

function expirySeconds(value: number | undefined): number {
  if (value === undefined) return PORTAL_LINK_DEFAULT_SECONDS;
  if (!Number.isInteger(value) || value < 1 || value > PORTAL_LINK_MAX_SECONDS) {
    throw invalidField("expiresInSeconds", `must be a whole number of seconds from 1 to ${PORTAL_LINK_MAX_SECONDS} (7 days); leave it out for ${PORTAL_LINK_DEFAULT_SECONDS} (1 hour)`);
  }
  return value;
}

export function makePortalLinkService(ctx: EngineContext): PortalLinkService {
  const { store, portalKey } = ctx;
  return {
    async issue(tenantId, options = {}) {
      const seconds = expirySeconds(options.expiresInSeconds);
      const readOnly = options.readOnly ?? false;
      const tenant = await store.getTenant(tenantId);
      if (!tenant) throw notFound.tenant(tenantId);
      const issuedAt = Date.now();
      const expiresAt = issuedAt + seconds * 1_000;
      const claims = { tenantId, tenantName: tenant.name.slice(0, SHOWN_NAME_LENGTH), issuedAt, expiresAt, readOnly, linkId: randomBytes(9).toString("base64url") };
      return { tenantId, token: signPortalToken(portalKey, claims), expiresAt, readOnly };
    },
    async check(token) {
      const checked = checkPortalToken(portalKey, token, Date.now());
      if (!checked.ok) {
        return checked.reason === "expired"
          ? { ok: false, reason: "expired", detail: `this portal link expired at ${new Date(checked.claims!.expiresAt).toISOString()}; ask for a new one` }
          : { ok: false, reason: "forged", detail: "the portal link is not one this server made" };
      }
      const { tenantId, readOnly, issuedAt, expiresAt, linkId } = checked.claims;
      const state = await store.portalLinkState(tenantId);
      if (!state) return { ok: false, reason: "tenant-gone", detail: `the tenant of this portal link (${tenantId}) no longer exists` };
      // A link made for an earlier tenant of the same id (deleted, then created again) is not this one's:
      // its revocation went with the deleted tenant's row.
      if (issuedAt < state.createdAt) return { ok: false, reason: "tenant-gone", detail: `the tenant of this portal link (${tenantId}) no longer exists` };
      if (state.revokedBefore !== null && issuedAt <= state.revokedBefore) {
        return { ok: false, reason: "revoked", detail: `the portal links of this tenant made until ${new Date(state.revokedBefore).toISOString()} were revoked; ask for a new one` };
      }
      return { ok: true, tenantId, readOnly, expiresAt, linkId };
    },
    async revokeAll(tenantId) {
      if (!(await store.getTenant(tenantId))) throw notFound.tenant(tenantId);
      const revokedBefore = Date.now();
      await store.revokePortalLinks(tenantId, revokedBefore);
      // A link made in the same millisecond would count as revoked: answer once the clock has moved
      // on, so a link asked for after this call returns is never born revoked (in this process).
      while (Date.now() <= revokedBefore) await new Promise((resolve) => setTimeout(resolve, 1));
      return { revokedBefore };
    },
  };
}
