-- Budget thresholds and unpriced models from the TOLLWAY_ALERTS stream, for the budget and
-- pricing dashboards; one row per alert id (a redelivery collapses; readers use FINAL).
CREATE TABLE IF NOT EXISTS ${database}.alerts
(
    alert_id      String,
    at            DateTime64(3, 'UTC'),
    kind          LowCardinality(String),
    message       String,
    owner         String,
    budget_id     LowCardinality(String),
    period_start  DateTime('UTC'),
    limit_amount  Decimal(18, 9),
    spent         Decimal(18, 9),
    currency      LowCardinality(String),
    model_alias   LowCardinality(String),
    inserted_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (kind, at, alert_id)
TTL toDateTime(at) + INTERVAL ${audit_retention_days} DAY DELETE;
