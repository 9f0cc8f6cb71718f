-- The Svix-compatible API (src/api/svix): an application's uid and metadata, an endpoint's uid
-- and channels. An event's channels live in its metadata, so events need nothing new.

ALTER TABLE tenants ADD COLUMN uid TEXT;
ALTER TABLE tenants ADD COLUMN metadata TEXT;
ALTER TABLE tenants ADD COLUMN updated_at BIGINT;
CREATE UNIQUE INDEX tenants_uid ON tenants(uid) WHERE uid IS NOT NULL;

-- NULL: the endpoint takes every channel.
ALTER TABLE webhooks ADD COLUMN uid TEXT;
ALTER TABLE webhooks ADD COLUMN channels TEXT;
CREATE UNIQUE INDEX webhooks_uid ON webhooks(tenant_id, uid) WHERE uid IS NOT NULL;
