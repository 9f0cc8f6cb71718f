-- The claim's first phase reads the earliest-due pending deliveries to pick the few it may take.
-- With the webhook and id in the index it reads the index alone, never the rows (and their event
-- payloads) it leaves behind: with one webhook capped at 10 in flight, a claim used to read 256
-- full rows to take 10.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries(next_attempt_at, webhook_id, id) WHERE state = 'pending';
