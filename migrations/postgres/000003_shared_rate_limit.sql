-- Per-webhook rate limits that hold across worker processes: a token bucket on the webhook
-- row, refilled and spent by the claim under the row lock it already takes.
ALTER TABLE webhooks ADD COLUMN rate_tokens DOUBLE PRECISION;
ALTER TABLE webhooks ADD COLUMN rate_refilled_at BIGINT;
