-- Rollups for dashboards, fed by materialized views as rows arrive. A redelivered event is
-- counted again here (a view sees every insert), so exact billing totals always come from
-- usage_requests FINAL; these are for charts over long ranges.
CREATE TABLE IF NOT EXISTS ${database}.usage_minute
(
    minute          DateTime('UTC'),
    org_id          LowCardinality(String),
    team_id         LowCardinality(String),
    model_alias     LowCardinality(String),
    provider        LowCardinality(String),
    requests        AggregateFunction(count),
    errors          AggregateFunction(countIf, UInt8),
    prompt_tokens   AggregateFunction(sum, UInt32),
    completion_tokens AggregateFunction(sum, UInt32),
    cost            AggregateFunction(sum, Decimal(18, 9)),
    latency         AggregateFunction(quantiles(0.5, 0.95, 0.99), Float64),
    ttft            AggregateFunction(quantiles(0.5, 0.95, 0.99), Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (org_id, team_id, model_alias, provider, minute)
TTL minute + INTERVAL ${retention_days} DAY DELETE;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${database}.usage_minute_mv TO ${database}.usage_minute AS
SELECT
    toStartOfMinute(received_at) AS minute,
    org_id,
    team_id,
    model_alias,
    provider,
    countState() AS requests,
    countIfState(toUInt8(status_code >= 400)) AS errors,
    sumState(prompt_tokens) AS prompt_tokens,
    sumState(completion_tokens) AS completion_tokens,
    sumState(cost) AS cost,
    quantilesState(0.5, 0.95, 0.99)(latency_ms) AS latency,
    quantilesState(0.5, 0.95, 0.99)(ifNull(ttft_ms, 0)) AS ttft
FROM ${database}.usage_requests
GROUP BY minute, org_id, team_id, model_alias, provider;

CREATE TABLE IF NOT EXISTS ${database}.cost_daily
(
    day          Date,
    org_id       LowCardinality(String),
    team_id      LowCardinality(String),
    key_id       LowCardinality(String),
    model_alias  LowCardinality(String),
    currency     LowCardinality(String),
    requests     UInt64,
    cost         Decimal(38, 9),
    unpriced_requests UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (org_id, team_id, key_id, model_alias, currency, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS ${database}.cost_daily_mv TO ${database}.cost_daily AS
SELECT
    toDate(received_at) AS day,
    org_id,
    team_id,
    key_id,
    model_alias,
    currency,
    count() AS requests,
    sum(toDecimal128(cost, 9)) AS cost,
    countIf(unpriced) AS unpriced_requests
FROM ${database}.usage_requests
GROUP BY day, org_id, team_id, key_id, model_alias, currency;
