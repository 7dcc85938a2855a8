-- The request log reads one request by its id, which is last in the sort key: a bloom filter
-- per 4 granules lets ClickHouse skip the parts of the table that cannot hold it instead of
-- reading the whole column. Parts written before this migration are read as before until
-- they merge.
ALTER TABLE ${database}.usage_requests ADD INDEX IF NOT EXISTS request_id_bloom request_id TYPE bloom_filter(0.001) GRANULARITY 4;
ALTER TABLE ${database}.request_bodies ADD INDEX IF NOT EXISTS request_id_bloom request_id TYPE bloom_filter(0.001) GRANULARITY 4;
