-- Control-plane changes from the TOLLWAY_AUDIT stream, one row per event id (a redelivered
-- event collapses into the same row; readers use FINAL).
CREATE TABLE IF NOT EXISTS ${database}.audit_events
(
    event_id       String,
    at             DateTime64(3, 'UTC'),
    actor_kind     LowCardinality(String),
    actor_id       String,
    actor_roles    Array(String),
    action         LowCardinality(String),
    resource_type  LowCardinality(String),
    resource_id    String,
    before         String,
    after          String,
    inserted_at    DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (resource_type, resource_id, at, event_id)
TTL toDateTime(at) + INTERVAL ${audit_retention_days} DAY DELETE;
