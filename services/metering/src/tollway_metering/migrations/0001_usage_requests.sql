-- One row per request. Redeliveries insert identical copies (same sort key), which
-- ReplacingMergeTree collapses on merge; readers use FINAL so they never count one twice.
-- A request can also have two events: the router's (real usage, rank 2) and the edge's
-- estimate when the router died (rank 1); the higher rank is the one kept.
CREATE TABLE IF NOT EXISTS ${database}.usage_requests
(
    request_id        String,
    received_at       DateTime64(3, 'UTC'),
    key_id            LowCardinality(String),
    key_name          LowCardinality(String),
    user_id           String,
    team_id           LowCardinality(String),
    org_id            LowCardinality(String),
    model_alias       LowCardinality(String),
    deployment        LowCardinality(String),
    provider          LowCardinality(String),
    upstream_model    LowCardinality(String),
    endpoint          LowCardinality(String),
    status_code       UInt16,
    error_type        LowCardinality(String),
    error_code        LowCardinality(String),
    prompt_tokens     UInt32,
    completion_tokens UInt32,
    total_tokens      UInt32,
    usage_estimated   Bool,
    latency_ms        Float64,
    ttft_ms           Nullable(Float64),
    stream            Bool,
    router_id         LowCardinality(String),
    source            LowCardinality(String),
    source_rank       UInt8,
    inserted_at       DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(source_rank)
PARTITION BY toYYYYMM(received_at)
ORDER BY (org_id, team_id, key_id, received_at, request_id)
TTL toDateTime(received_at) + INTERVAL ${retention_days} DAY DELETE;
