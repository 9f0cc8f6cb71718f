-- Egress (issue 14): a webhook's own forward proxy. NULL: the server's HERALD_PROXY_URL;
-- 'direct': no proxy; else the proxy URL without credentials (those are sealed with the
-- webhook's other secrets, as is its mTLS material).

ALTER TABLE webhooks ADD COLUMN proxy_url TEXT;
