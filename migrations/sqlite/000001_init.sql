-- Herald schema, version 1. Migrations are append-only: never edit a released one.
-- Times are epoch milliseconds; JSON columns hold JSON text.

CREATE TABLE tenants (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
  id         TEXT PRIMARY KEY,
  tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name       TEXT NOT NULL,
  prefix     TEXT NOT NULL,
  hash       TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX api_keys_tenant ON api_keys(tenant_id);

CREATE TABLE webhooks (
  id                    TEXT PRIMARY KEY,
  tenant_id             TEXT REFERENCES tenants(id) ON DELETE CASCADE, -- NULL: global webhook
  kind                  TEXT NOT NULL,
  name                  TEXT NOT NULL,
  url                   TEXT NOT NULL,
  description           TEXT NOT NULL,
  events                TEXT NOT NULL,
  method                TEXT NOT NULL,
  auth_type             TEXT NOT NULL,
  sealed                TEXT NOT NULL, -- AES-256-GCM: signing secrets, auth credentials, custom headers
  retry                 TEXT NOT NULL,
  timeout_ms            INTEGER NOT NULL,
  status                TEXT NOT NULL,
  disabled_reason       TEXT,
  payload_format        TEXT NOT NULL,
  rate_limit_per_second REAL,
  max_concurrency       INTEGER NOT NULL,
  ordered               INTEGER NOT NULL,
  metadata              TEXT NOT NULL,
  created_at            INTEGER NOT NULL,
  updated_at            INTEGER NOT NULL
);
CREATE INDEX webhooks_tenant ON webhooks(tenant_id, status);

CREATE TABLE events (
  id              TEXT PRIMARY KEY,
  tenant_id       TEXT NOT NULL,
  type            TEXT NOT NULL,
  data            TEXT NOT NULL,
  metadata        TEXT,
  idempotency_key TEXT,
  created_at      INTEGER NOT NULL
);
CREATE INDEX events_tenant ON events(tenant_id, created_at);
CREATE UNIQUE INDEX events_idempotency ON events(tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE deliveries (
  id               TEXT PRIMARY KEY,
  event_id         TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
  webhook_id       TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
  tenant_id        TEXT NOT NULL,
  event_type       TEXT NOT NULL,
  state            TEXT NOT NULL,
  attempt_count    INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  INTEGER,
  lease_owner      TEXT,
  lease_expires_at INTEGER,
  last_status      INTEGER,
  last_error       TEXT,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  completed_at     INTEGER
);
-- Partial indexes keep the claim path small: only rows that can still be claimed are indexed.
CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_leased ON deliveries(lease_expires_at) WHERE state = 'in_flight';
CREATE INDEX deliveries_webhook ON deliveries(webhook_id, id);
CREATE INDEX deliveries_event ON deliveries(event_id);
CREATE INDEX deliveries_tenant ON deliveries(tenant_id, id);

CREATE TABLE attempts (
  id               TEXT PRIMARY KEY,
  delivery_id      TEXT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
  webhook_id       TEXT NOT NULL,
  attempt_number   INTEGER NOT NULL,
  started_at       INTEGER NOT NULL,
  duration_ms      REAL NOT NULL,
  request_method   TEXT NOT NULL,
  request_url      TEXT NOT NULL,
  request_headers  TEXT NOT NULL,
  response_status  INTEGER,
  response_headers TEXT,
  response_body    TEXT,
  error_class      TEXT,
  error_message    TEXT
);
CREATE INDEX attempts_delivery ON attempts(delivery_id);
CREATE INDEX attempts_webhook ON attempts(webhook_id, started_at);

CREATE TABLE event_types (
  tenant_id   TEXT NOT NULL,
  name        TEXT NOT NULL,
  description TEXT NOT NULL,
  schema      TEXT,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, name)
);
