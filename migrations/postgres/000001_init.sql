-- Herald schema, version 1 (PostgreSQL). The same numbered sequence as migrations/sqlite, and
-- append-only the same way: never edit a released migration, add 000002_... instead.
--
-- Choices that differ from a "natural" PostgreSQL schema, and why:
-- * Times are BIGINT epoch milliseconds, as in SQLite, so one row mapping (src/store/rows.ts)
--   serves both backends; node-pg returns BIGINT as a string and rows.ts applies Number().
-- * JSON columns are TEXT, not JSONB: an event's data is sent to receivers as it was given,
--   and JSONB would reorder keys and drop duplicate ones. Herald never queries inside them.
-- * Ids are TEXT COLLATE "C": UUIDv7 ids are pagination cursors (id > $cursor ORDER BY id), and
--   byte order keeps that identical to SQLite whatever the database's default collation.

CREATE TABLE tenants (
  id         TEXT COLLATE "C" PRIMARY KEY,
  name       TEXT NOT NULL,
  created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
  id         TEXT COLLATE "C" PRIMARY KEY,
  tenant_id  TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name       TEXT NOT NULL,
  prefix     TEXT NOT NULL,
  hash       TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  revoked_at BIGINT
);
CREATE INDEX api_keys_tenant ON api_keys(tenant_id);

CREATE TABLE webhooks (
  id                    TEXT COLLATE "C" PRIMARY KEY,
  tenant_id             TEXT COLLATE "C" REFERENCES tenants(id) ON DELETE CASCADE, -- NULL: global webhook
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
  rate_limit_per_second DOUBLE PRECISION,
  max_concurrency       INTEGER NOT NULL,
  ordered               INTEGER NOT NULL,
  metadata              TEXT NOT NULL,
  created_at            BIGINT NOT NULL,
  updated_at            BIGINT NOT NULL
);
CREATE INDEX webhooks_tenant ON webhooks(tenant_id, status);

CREATE TABLE events (
  id              TEXT COLLATE "C" PRIMARY KEY,
  tenant_id       TEXT COLLATE "C" NOT NULL,
  type            TEXT NOT NULL,
  data            TEXT NOT NULL,
  metadata        TEXT,
  idempotency_key TEXT,
  created_at      BIGINT NOT NULL
);
CREATE INDEX events_tenant ON events(tenant_id, created_at);
CREATE UNIQUE INDEX events_idempotency ON events(tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE deliveries (
  id               TEXT COLLATE "C" PRIMARY KEY,
  event_id         TEXT COLLATE "C" NOT NULL REFERENCES events(id) ON DELETE CASCADE,
  webhook_id       TEXT COLLATE "C" NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
  tenant_id        TEXT COLLATE "C" NOT NULL,
  event_type       TEXT NOT NULL,
  state            TEXT NOT NULL,
  attempt_count    INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  BIGINT,
  lease_owner      TEXT,
  lease_expires_at BIGINT,
  last_status      INTEGER,
  last_error       TEXT,
  created_at       BIGINT NOT NULL,
  updated_at       BIGINT NOT NULL,
  completed_at     BIGINT
);
-- Partial indexes keep the claim path small: only rows that can still be claimed are indexed.
CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_leased ON deliveries(lease_expires_at) WHERE state = 'in_flight';
-- The cross-process in-flight cap counts a webhook's in_flight rows on every claim: this index
-- holds only rows in flight (at most the sum of every worker's maxInFlight), so the count is cheap.
CREATE INDEX deliveries_in_flight ON deliveries(webhook_id) WHERE state = 'in_flight';
CREATE INDEX deliveries_webhook ON deliveries(webhook_id, id);
CREATE INDEX deliveries_event ON deliveries(event_id);
CREATE INDEX deliveries_tenant ON deliveries(tenant_id, id);
-- Each delivery is updated two to three times per attempt (claim, settle, retry), and every
-- update leaves a dead tuple in the table and in the partial indexes the claim scans. Vacuum
-- it at 2% dead rows instead of the default 20%, so the claim path stays small under load.
ALTER TABLE deliveries SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);

CREATE TABLE attempts (
  id               TEXT COLLATE "C" PRIMARY KEY,
  delivery_id      TEXT COLLATE "C" NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
  webhook_id       TEXT COLLATE "C" NOT NULL,
  attempt_number   INTEGER NOT NULL,
  started_at       BIGINT NOT NULL,
  duration_ms      DOUBLE PRECISION NOT NULL,
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
  tenant_id   TEXT COLLATE "C" NOT NULL,
  name        TEXT COLLATE "C" NOT NULL,
  description TEXT NOT NULL,
  schema      TEXT,
  created_at  BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, name)
);
