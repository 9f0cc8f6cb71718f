-- Payload filters (src/domain/payload-filter.ts): a webhook's MongoDB-style query over each
-- event's {type, data, metadata}, as JSON text. NULL: no filter, every event of its types.

ALTER TABLE webhooks ADD COLUMN filter TEXT;
