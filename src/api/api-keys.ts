/**
 * Tenant API keys: `hk_` plus 32 random bytes, shown once when made and stored only as a
 * SHA-256 hash. A plain hash (not a slow KDF) is enough because the key is 256 random bits:
 * there is nothing to guess, and every request must be checked quickly.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Herald } from "../herald.js";
import { uuidv7 } from "../domain/ids.js";
import type { ApiKey } from "../domain/types.js";
import { HeraldError } from "../errors.js";

export const API_KEY_PREFIX = "hk_";
/** How many leading characters are kept in clear to tell keys apart in listings. */
const SHOWN_PREFIX_LENGTH = 10;

/** `kind` goes after the prefix (`hk_admin_...`) so a leaked key says what it opens. */
export function generateApiKey(kind?: "admin"): string {
  return API_KEY_PREFIX + (kind ? `${kind}_` : "") + randomBytes(32).toString("base64url");
}

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** Compares two secrets in constant time (through their hashes, so lengths may differ). */
export function secretsEqual(given: string, expected: string): boolean {
  return timingSafeEqual(createHash("sha256").update(given).digest(), createHash("sha256").update(expected).digest());
}

export interface IssuedApiKey {
  apiKey: ApiKey;
  /** The key itself: returned once, never stored. */
  key: string;
}

/** Stores a key for a tenant (a given one, e.g. DEFAULT_WALLET_AUTH_API_KEY, or a new one) and announces `api.key.created`. */
export async function issueApiKey(herald: Herald, tenantId: string, name: string, given?: string): Promise<IssuedApiKey> {
  if (!(await herald.store.getTenant(tenantId))) {
    throw new HeraldError("HERALD_ERR_TENANT_NOT_FOUND", `tenant ${tenantId} not found`, { field: "id" });
  }
  const key = given ?? generateApiKey();
  const apiKey: ApiKey = {
    id: uuidv7(),
    tenantId,
    name,
    prefix: key.slice(0, SHOWN_PREFIX_LENGTH),
    createdAt: Date.now(),
    revokedAt: null,
  };
  await herald.store.insertApiKey({ ...apiKey, hash: hashApiKey(key) });
  herald.emitSystemEvent("api.key.created", { key_id: apiKey.id, name, prefix: apiKey.prefix, tenant_id: tenantId }, tenantId);
  return { apiKey, key };
}

export async function revokeApiKey(herald: Herald, id: string): Promise<ApiKey> {
  const stored = await herald.store.getApiKey(id);
  if (!stored || stored.revokedAt !== null) {
    throw new HeraldError("HERALD_ERR_API_KEY_NOT_FOUND", `API key ${id} not found or already revoked`, { field: "id" });
  }
  const now = Date.now();
  await herald.store.revokeApiKey(id, now);
  herald.emitSystemEvent("api.key.revoked", { key_id: id, name: stored.name, prefix: stored.prefix, tenant_id: stored.tenantId }, stored.tenantId);
  const { hash: _hash, ...apiKey } = stored;
  return { ...apiKey, revokedAt: now };
}
