-- What a request cost and the details billing and support ask about. Cost is exact
-- (Decimal, never float), computed by metering from the price table in force, named by
-- price_version; a model with no price is stored at 0 with unpriced = true, never silently free.
ALTER TABLE ${database}.usage_requests ADD COLUMN IF NOT EXISTS cached_read_tokens UInt32 DEFAULT 0;
ALTER TABLE ${database}.usage_requests ADD COLUMN IF NOT EXISTS cache_write_tokens UInt32 DEFAULT 0;
ALTER TABLE ${database}.usage_requests ADD COLUMN IF NOT EXISTS reasoning_tokens UInt32 DEFAULT 0;
ALTER TABLE ${database}.usage_requests ADD COLUMN IF NOT EXISTS cost Decimal(18, 9) DEFAULT 0;
ALTER TABLE ${database}.usage_requests ADD COLUMN IF NOT EXISTS currency LowCardinality(String) DEFAULT '';
ALTER TABLE ${database}.usage_requests ADD COLUMN IF NOT EXISTS price_version LowCardinality(String) DEFAULT '';
ALTER TABLE ${database}.usage_requests ADD COLUMN IF NOT EXISTS unpriced Bool DEFAULT false;
ALTER TABLE ${database}.usage_requests ADD COLUMN IF NOT EXISTS upstream_latency_ms Nullable(Float64);
ALTER TABLE ${database}.usage_requests ADD COLUMN IF NOT EXISTS retries UInt8 DEFAULT 0;
ALTER TABLE ${database}.usage_requests ADD COLUMN IF NOT EXISTS fallbacks UInt8 DEFAULT 0;
ALTER TABLE ${database}.usage_requests ADD COLUMN IF NOT EXISTS client_ip_hash String DEFAULT '';
ALTER TABLE ${database}.usage_requests ADD COLUMN IF NOT EXISTS user_agent String DEFAULT '';
ALTER TABLE ${database}.usage_requests ADD COLUMN IF NOT EXISTS trace_id String DEFAULT '';
