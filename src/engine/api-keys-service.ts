/** Tenants' API keys: issued (the key shown once), listed by prefix, revoked, looked up by hash. */
import { uuidv7 } from "../domain/ids.js";
import { assertStorableText } from "../domain/json-limits.js";
import type { ApiKey } from "../domain/types.js";
import { notFound } from "../errors.js";
import { generateApiKey, hashApiKey } from "../secrets/api-key-text.js";
import type { StoredApiKey } from "../store/store.js";
import type { EngineContext } from "./context.js";

/** How many leading characters are kept in clear to tell keys apart in listings. */
const SHOWN_PREFIX_LENGTH = 10;

export interface IssuedApiKey {
  apiKey: ApiKey;
  /** The key itself: returned once, never stored. */
  key: string;
}

export interface ApiKeyService {
  /** Stores a key for a tenant (a given one, e.g. DEFAULT_WALLET_AUTH_API_KEY, or a new one) and announces `api.key.created`. */
  issue(tenantId: string, name: string, given?: string): Promise<IssuedApiKey>;
  /** Revokes a key and announces `api.key.revoked`. */
  revoke(id: string): Promise<ApiKey>;
  list(tenantId: string): Promise<ApiKey[]>;
  /** The stored key with this SHA-256 hash (revoked or not), or null. */
  findByHash(hash: string): Promise<StoredApiKey | null>;
  /** The stored key for this key text, or null. */
  findByKey(key: string): Promise<StoredApiKey | null>;
}

export function makeApiKeyService(ctx: EngineContext): ApiKeyService {
  const { store } = ctx;
  return {
    async issue(tenantId, name, given) {
      assertStorableText(name, "name");
      if (!(await store.getTenant(tenantId))) throw notFound.tenant(tenantId);
      const key = given ?? generateApiKey();
      const apiKey: ApiKey = { id: uuidv7(), tenantId, name, prefix: key.slice(0, SHOWN_PREFIX_LENGTH), createdAt: Date.now(), revokedAt: null };
      await store.insertApiKey({ ...apiKey, hash: hashApiKey(key) });
      ctx.emitSystemEvent("api.key.created", { key_id: apiKey.id, name, prefix: apiKey.prefix, tenant_id: tenantId }, tenantId);
      return { apiKey, key };
    },
    async revoke(id) {
      const stored = await store.getApiKey(id);
      if (!stored || stored.revokedAt !== null) throw notFound.apiKey(id);
      const now = Date.now();
      await store.revokeApiKey(id, now);
      ctx.emitSystemEvent("api.key.revoked", { key_id: id, name: stored.name, prefix: stored.prefix, tenant_id: stored.tenantId }, stored.tenantId);
      const { hash: _hash, ...apiKey } = stored;
      return { ...apiKey, revokedAt: now };
    },
    async list(tenantId) {
      if (!(await store.getTenant(tenantId))) throw notFound.tenant(tenantId);
      return store.listApiKeys(tenantId);
    },
    findByHash: (hash) => store.findApiKeyByHash(hash),
    findByKey: (key) => store.findApiKeyByHash(hashApiKey(key)),
  };
}
