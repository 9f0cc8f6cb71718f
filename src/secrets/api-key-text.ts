/**
 * Tenant API keys as text: `hk_` plus 32 random bytes, shown once when made and stored only as
 * a SHA-256 hash. A plain hash (not a slow KDF) is enough because the key is 256 random bits:
 * there is nothing to guess, and every request must be checked quickly.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export const API_KEY_PREFIX = "hk_";

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
