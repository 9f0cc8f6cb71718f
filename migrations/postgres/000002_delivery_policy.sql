-- Delivery policy: sustained-failure tracking, ordered delivery, durable recovery, retention.
-- The PostgreSQL side of migrations/sqlite/000002_delivery_policy.sql.

-- Set when a delivery to the webhook gives up after a success (or ever); cleared by the next
-- success. A webhook failing for longer than the disable span is disabled.
ALTER TABLE webhooks ADD COLUMN failing_since BIGINT;

-- Ordered webhooks: a delivery may go only when no earlier delivery of its webhook is still
-- open. Partial, so it holds only open rows and the check stays an index probe however long
-- the webhook's history grows.
CREATE INDEX deliveries_open_by_webhook ON deliveries(webhook_id, id) WHERE state IN ('pending', 'in_flight');

-- Retention deletes finished deliveries by completion time.
CREATE INDEX deliveries_completed ON deliveries(completed_at) WHERE completed_at IS NOT NULL;
CREATE INDEX events_created ON events(created_at);

-- A recovery re-queues a webhook's failed deliveries in bounded batches; the cursor is
-- committed with each batch, so a restart half-way resumes where it stopped.
CREATE TABLE recovery_jobs (
  id         TEXT COLLATE "C" PRIMARY KEY,
  webhook_id TEXT COLLATE "C" NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
  since      BIGINT NOT NULL,
  cursor     TEXT COLLATE "C",
  requeued   INTEGER NOT NULL DEFAULT 0,
  status     TEXT NOT NULL, -- running | done
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX recovery_jobs_running ON recovery_jobs(status) WHERE status = 'running';
