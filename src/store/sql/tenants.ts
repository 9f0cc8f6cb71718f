/** Tenants, their API keys and the revocation of their portal links. */
import type { ApiKey, Tenant } from "../../domain/types.js";
import { type ApiKeyRow, type TenantRow, rowToApiKey, rowToTenant } from "../rows.js";
import type { StoredApiKey } from "../store.js";
import type { SqlRunner } from "./runner.js";

/** False when a tenant with this id exists; a taken uid is refused by the store (its unique index). */
export async function insertTenant(db: SqlRunner, tenant: Tenant): Promise<boolean> {
  const { changes } = await db.run(
    "INSERT INTO tenants (id, name, uid, metadata, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
    [tenant.id, tenant.name, tenant.uid ?? null, JSON.stringify(tenant.metadata ?? {}), tenant.createdAt, tenant.updatedAt ?? tenant.createdAt],
  );
  return changes === 1;
}

export async function updateTenant(db: SqlRunner, tenant: Tenant): Promise<boolean> {
  const { changes } = await db.run("UPDATE tenants SET name = $2, uid = $3, metadata = $4, updated_at = $5 WHERE id = $1", [
    tenant.id, tenant.name, tenant.uid ?? null, JSON.stringify(tenant.metadata ?? {}), tenant.updatedAt ?? Date.now(),
  ]);
  return changes === 1;
}

export async function getTenantByUid(db: SqlRunner, uid: string): Promise<Tenant | null> {
  const row = await db.get<TenantRow>("SELECT * FROM tenants WHERE uid = $1", [uid]);
  return row ? rowToTenant(row) : null;
}

export async function getTenant(db: SqlRunner, id: string): Promise<Tenant | null> {
  const row = await db.get<TenantRow>("SELECT * FROM tenants WHERE id = $1", [id]);
  return row ? rowToTenant(row) : null;
}

export async function listTenants(db: SqlRunner): Promise<Tenant[]> {
  return (await db.all<TenantRow>("SELECT * FROM tenants ORDER BY created_at, id")).map(rowToTenant);
}

export function deleteTenant(db: SqlRunner, id: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    // Events and deliveries carry tenant_id without a foreign key (global webhooks span tenants).
    await tx.run("DELETE FROM events WHERE tenant_id = $1", [id]);
    await tx.run("DELETE FROM event_types WHERE tenant_id = $1", [id]);
    return (await tx.run("DELETE FROM tenants WHERE id = $1", [id])).changes === 1;
  });
}

export async function insertApiKey(db: SqlRunner, key: StoredApiKey): Promise<void> {
  await db.run("INSERT INTO api_keys (id, tenant_id, name, prefix, hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)", [
    key.id, key.tenantId, key.name, key.prefix, key.hash, key.createdAt, key.revokedAt,
  ]);
}

export async function findApiKeyByHash(db: SqlRunner, hash: string): Promise<StoredApiKey | null> {
  const row = await db.get<ApiKeyRow>("SELECT * FROM api_keys WHERE hash = $1", [hash]);
  return row ? rowToApiKey(row) : null;
}

export async function getApiKey(db: SqlRunner, id: string): Promise<StoredApiKey | null> {
  const row = await db.get<ApiKeyRow>("SELECT * FROM api_keys WHERE id = $1", [id]);
  return row ? rowToApiKey(row) : null;
}

/** A tenant's keys, oldest first, without their hashes. */
export async function listApiKeys(db: SqlRunner, tenantId: string): Promise<ApiKey[]> {
  const rows = await db.all<ApiKeyRow>("SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id", [tenantId]);
  return rows.map((row) => {
    const { hash: _hash, ...key } = rowToApiKey(row);
    return key;
  });
}

export async function revokeApiKey(db: SqlRunner, id: string, now: number): Promise<boolean> {
  return (await db.run("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", [now, id])).changes === 1;
}

export async function revokePortalLinks(db: SqlRunner, tenantId: string, before: number): Promise<void> {
  await db.run(
    "INSERT INTO portal_link_revocations (tenant_id, revoked_before) VALUES ($1, $2) ON CONFLICT (tenant_id) DO UPDATE SET revoked_before = " +
      // Never earlier than a revocation already stored: another process's clock may be behind.
      "CASE WHEN excluded.revoked_before > portal_link_revocations.revoked_before THEN excluded.revoked_before ELSE portal_link_revocations.revoked_before END",
    [tenantId, before],
  );
}

/** One read per portal link checked: whether the tenant exists, since when, and when its links were last revoked. */
export async function portalLinkState(db: SqlRunner, tenantId: string): Promise<{ revokedBefore: number | null; createdAt: number } | null> {
  const row = await db.get<{ revoked_before: number | string | null; created_at: number | string }>(
    "SELECT r.revoked_before, t.created_at FROM tenants t LEFT JOIN portal_link_revocations r ON r.tenant_id = t.id WHERE t.id = $1",
    [tenantId],
  );
  if (!row) return null;
  // PostgreSQL returns BIGINT as text.
  return { revokedBefore: row.revoked_before === null ? null : Number(row.revoked_before), createdAt: Number(row.created_at) };
}
