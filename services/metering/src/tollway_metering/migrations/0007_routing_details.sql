-- How the router got the answer: the fallback alias that gave it (empty when the alias asked
-- for did), the pool credential used, and one entry per upstream call
-- ("deployment[/credential]:ok" or ":<error code>").
ALTER TABLE ${database}.usage_requests ADD COLUMN IF NOT EXISTS served_model LowCardinality(String) DEFAULT '';
ALTER TABLE ${database}.usage_requests ADD COLUMN IF NOT EXISTS credential LowCardinality(String) DEFAULT '';
ALTER TABLE ${database}.usage_requests ADD COLUMN IF NOT EXISTS attempts Array(String) DEFAULT [];
