-- Tenant portal links (src/engine/portal-links-service.ts) are signed tokens with no row of
-- their own. Revoking a tenant's links records the time at or before which its links were made
-- and no longer open anything; links made later do.

CREATE TABLE portal_link_revocations (
  tenant_id      TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
  revoked_before BIGINT NOT NULL
);
