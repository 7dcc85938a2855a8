-- What a usage row says (docs/adr/0021-what-a-usage-row-says.md). An estimate is never priced
-- as real: its cost is 0 and what the price table would have made of it is kept apart, in
-- estimated_cost, which no total sums.
ALTER TABLE ${database}.usage_requests ADD COLUMN IF NOT EXISTS estimated_cost Decimal(18, 9) DEFAULT 0;
-- Metering looks up the rows already stored for each batch's request ids (a redelivery is
-- skipped, a late event merged); migration 0010's bloom filter on request_id keeps that off a
-- full scan.
-- A row that a better-informed one replaced (the edge's estimate by the router's event, the
-- router's by the merge with what the client saw) is written here when it is replaced; the
-- Null engine keeps nothing, but the rollup views below subtract what passes through.
CREATE TABLE IF NOT EXISTS ${database}.usage_retractions
(
    request_id        String,
    received_at       DateTime64(3, 'UTC'),
    key_id            LowCardinality(String),
    team_id           LowCardinality(String),
    org_id            LowCardinality(String),
    model_alias       LowCardinality(String),
    provider          LowCardinality(String),
    status_code       UInt16,
    prompt_tokens     UInt32,
    completion_tokens UInt32,
    cost              Decimal(18, 9),
    currency          LowCardinality(String),
    unpriced          Bool
)
ENGINE = Null;
-- The rollups of 0004 counted every insert, so a redelivered batch counted twice. They are
-- derived data: rebuilt here with signed sums (a retraction subtracts), fed only with rows
-- metering has not stored before, and filled again from the billing view.
DROP VIEW IF EXISTS ${database}.usage_minute_mv;
DROP VIEW IF EXISTS ${database}.cost_daily_mv;
DROP TABLE IF EXISTS ${database}.usage_minute;
DROP TABLE IF EXISTS ${database}.cost_daily;

CREATE TABLE IF NOT EXISTS ${database}.usage_minute
(
    minute            DateTime('UTC'),
    org_id            LowCardinality(String),
    team_id           LowCardinality(String),
    model_alias       LowCardinality(String),
    provider          LowCardinality(String),
    requests          AggregateFunction(sum, Int64),
    errors            AggregateFunction(sum, Int64),
    prompt_tokens     AggregateFunction(sum, Int64),
    completion_tokens AggregateFunction(sum, Int64),
    cost              AggregateFunction(sum, Decimal(38, 9)),
    latency           AggregateFunction(quantiles(0.5, 0.95, 0.99), Float64),
    ttft              AggregateFunction(quantiles(0.5, 0.95, 0.99), Float64)
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
    sumState(toInt64(1)) AS requests,
    sumState(toInt64(status_code >= 400)) AS errors,
    sumState(toInt64(prompt_tokens)) AS prompt_tokens,
    sumState(toInt64(completion_tokens)) AS completion_tokens,
    sumState(toDecimal128(cost, 9)) AS cost,
    quantilesState(0.5, 0.95, 0.99)(latency_ms) AS latency,
    quantilesState(0.5, 0.95, 0.99)(ifNull(ttft_ms, 0)) AS ttft
FROM ${database}.usage_requests
GROUP BY minute, org_id, team_id, model_alias, provider;

-- Latency quantiles cannot be taken back: a replaced row stays one sample among them.
CREATE MATERIALIZED VIEW IF NOT EXISTS ${database}.usage_minute_retractions_mv TO ${database}.usage_minute AS
SELECT
    toStartOfMinute(received_at) AS minute,
    org_id,
    team_id,
    model_alias,
    provider,
    sumState(toInt64(-1)) AS requests,
    sumState(-toInt64(status_code >= 400)) AS errors,
    sumState(-toInt64(prompt_tokens)) AS prompt_tokens,
    sumState(-toInt64(completion_tokens)) AS completion_tokens,
    sumState(-toDecimal128(cost, 9)) AS cost,
    quantilesStateIf(0.5, 0.95, 0.99)(toFloat64(0), false) AS latency,
    quantilesStateIf(0.5, 0.95, 0.99)(toFloat64(0), false) AS ttft
FROM ${database}.usage_retractions
GROUP BY minute, org_id, team_id, model_alias, provider;

CREATE TABLE IF NOT EXISTS ${database}.cost_daily
(
    day               Date,
    org_id            LowCardinality(String),
    team_id           LowCardinality(String),
    key_id            LowCardinality(String),
    model_alias       LowCardinality(String),
    currency          LowCardinality(String),
    requests          Int64,
    cost              Decimal(38, 9),
    unpriced_requests Int64
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
    toInt64(count()) AS requests,
    sum(toDecimal128(cost, 9)) AS cost,
    toInt64(countIf(unpriced)) AS unpriced_requests
FROM ${database}.usage_requests
GROUP BY day, org_id, team_id, key_id, model_alias, currency;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${database}.cost_daily_retractions_mv TO ${database}.cost_daily AS
SELECT
    toDate(received_at) AS day,
    org_id,
    team_id,
    key_id,
    model_alias,
    currency,
    -toInt64(count()) AS requests,
    -sum(toDecimal128(cost, 9)) AS cost,
    -toInt64(countIf(unpriced)) AS unpriced_requests
FROM ${database}.usage_retractions
GROUP BY day, org_id, team_id, key_id, model_alias, currency;

INSERT INTO ${database}.usage_minute
SELECT
    toStartOfMinute(received_at) AS minute,
    org_id,
    team_id,
    model_alias,
    provider,
    sumState(toInt64(1)),
    sumState(toInt64(status_code >= 400)),
    sumState(toInt64(prompt_tokens)),
    sumState(toInt64(completion_tokens)),
    sumState(toDecimal128(cost, 9)),
    quantilesState(0.5, 0.95, 0.99)(latency_ms),
    quantilesState(0.5, 0.95, 0.99)(ifNull(ttft_ms, 0))
FROM ${database}.usage_requests FINAL
GROUP BY minute, org_id, team_id, model_alias, provider;

INSERT INTO ${database}.cost_daily
SELECT
    toDate(received_at) AS day,
    org_id,
    team_id,
    key_id,
    model_alias,
    currency,
    toInt64(count()),
    sum(toDecimal128(cost, 9)),
    toInt64(countIf(unpriced))
FROM ${database}.usage_requests FINAL
GROUP BY day, org_id, team_id, key_id, model_alias, currency;
