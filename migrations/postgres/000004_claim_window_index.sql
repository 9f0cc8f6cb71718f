-- Kept in step with migrations/sqlite/000004: the due index also carries the webhook and id, so
-- the claim can choose candidates from the index before touching rows.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries(next_attempt_at, webhook_id, id) WHERE state = 'pending';
