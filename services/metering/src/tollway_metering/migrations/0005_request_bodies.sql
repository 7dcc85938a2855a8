-- Request and response bodies of the callers whose policy logs them, redacted by the router
-- before they were published. Their own retention (body_retention_days, applied again at
-- every start when it changes) and daily partitions, so expiry drops whole parts.
CREATE TABLE IF NOT EXISTS ${database}.request_bodies
(
    request_id          String,
    received_at         DateTime64(3, 'UTC'),
    key_id              LowCardinality(String),
    user_id             String,
    team_id             LowCardinality(String),
    org_id              LowCardinality(String),
    model_alias         LowCardinality(String),
    endpoint            LowCardinality(String),
    stream              Bool,
    status_code         UInt16,
    request_body        String CODEC(ZSTD(3)),
    response_body       String CODEC(ZSTD(3)),
    request_truncated   Bool,
    response_truncated  Bool,
    redactions          Map(LowCardinality(String), UInt32),
    inserted_at         DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(received_at)
ORDER BY (org_id, team_id, key_id, received_at, request_id)
TTL toDateTime(received_at) + INTERVAL ${body_retention_days} DAY DELETE
SETTINGS ttl_only_drop_parts = 1;
