from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from tollway_common.contract import (
    Alert,
    AlertKind,
    BodyEvent,
    ClientInfo,
    Endpoint,
    Principal,
    UsageEvent,
    UsageRow,
    UsageSource,
)
from tollway_common.control import Price
from tollway_metering.charges import UNPRICED, Charge, charge
from tollway_metering.rows import (
    ALERT_COLUMNS,
    BODY_COLUMNS,
    BODY_SELECT,
    USAGE_COLUMNS,
    alert_row,
    body_row,
    ms_to_datetime,
    to_body_event,
    to_usage_row,
    usage_row,
)

PRICED = Charge(Decimal("0.000123"), "USD", "2026-11-01T00:00:00Z", False)


def _event(**overrides: object) -> UsageEvent:
    fields: dict[str, object] = {
        "request_id": "0190f0a2-0000-7000-8000-000000000001",
        "received_at_ms": 1_700_000_000_123,
        "endpoint": Endpoint.CHAT_COMPLETIONS,
        "principal": Principal(key_id="k1", key_name="ci", user_id="u1", team_id="t1", org_id="o1"),
        "model_alias": "gpt-4o-mini",
        "deployment": "openai-east",
        "provider": "openai",
        "upstream_model": "gpt-4o-mini-2024-07-18",
        "status_code": 200,
        "prompt_tokens": 12,
        "completion_tokens": 30,
        "total_tokens": 42,
        "latency_ms": 812.5,
        "ttft_ms": 120.25,
        "stream": True,
        "router_id": "r1",
    }
    fields.update(overrides)
    return UsageEvent.model_validate(fields)


def test_usage_row_lists_every_column_in_order() -> None:
    event = _event(
        cached_read_tokens=4,
        reasoning_tokens=7,
        upstream_latency_ms=700.0,
        client=ClientInfo(ip_hash="abc", user_agent="OpenAI/Python 1.60"),
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        retries=1,
        fallbacks=1,
        served_model="gpt-4o",
        credential="k2",
        attempts=["openai-east/k1:upstream_rate_limited", "openai-west/k2:ok"],
        images=2,
        audio_seconds=12.5,
        characters=300,
        batch_id="batch_0123",
    )
    row = dict(zip(USAGE_COLUMNS, usage_row(event, PRICED), strict=True))

    assert row == {
        "request_id": "0190f0a2-0000-7000-8000-000000000001",
        "received_at": datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC),
        "key_id": "k1",
        "key_name": "ci",
        "user_id": "u1",
        "team_id": "t1",
        "org_id": "o1",
        "model_alias": "gpt-4o-mini",
        "deployment": "openai-east",
        "provider": "openai",
        "upstream_model": "gpt-4o-mini-2024-07-18",
        "endpoint": "chat_completions",
        "status_code": 200,
        "error_type": "",
        "error_code": "",
        "prompt_tokens": 12,
        "completion_tokens": 30,
        "total_tokens": 42,
        "usage_estimated": False,
        "latency_ms": 812.5,
        "ttft_ms": 120.25,
        "stream": True,
        "router_id": "r1",
        "source": "router",
        "source_rank": 2,
        "cached_read_tokens": 4,
        "cache_write_tokens": 0,
        "reasoning_tokens": 7,
        "cost": Decimal("0.000123"),
        "currency": "USD",
        "price_version": "2026-11-01T00:00:00Z",
        "unpriced": False,
        "upstream_latency_ms": 700.0,
        "retries": 1,
        "fallbacks": 1,
        "client_ip_hash": "abc",
        "user_agent": "OpenAI/Python 1.60",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "served_model": "gpt-4o",
        "credential": "k2",
        "attempts": ["openai-east/k1:upstream_rate_limited", "openai-west/k2:ok"],
        "images": 2,
        "audio_seconds": 12.5,
        "characters": 300,
        "batch_id": "batch_0123",
        "estimated_cost": Decimal(0),
    }


def test_cost_is_exact_and_a_model_without_a_price_is_flagged() -> None:
    price = Price(
        model="gpt-4o-mini",
        input_per_mtok=Decimal("0.15"),
        output_per_mtok=Decimal("0.60"),
        cached_read_per_mtok=Decimal("0.075"),
        version="v7",
    )
    # 12 prompt tokens, 2 of them cached reads; 30 completion tokens.
    priced = charge(_event(cached_read_tokens=2), price)
    expected = (10 * Decimal("0.15") + 2 * Decimal("0.075") + 30 * Decimal("0.60")) / 1_000_000
    assert priced == Charge(expected, "USD", "v7", False)
    assert charge(_event(), None) == UNPRICED
    assert UNPRICED.unpriced


def test_a_batch_line_costs_the_batch_share_of_the_price_where_one_is_set() -> None:
    price = Price(
        model="gpt-4o-mini",
        input_per_mtok=Decimal("0.15"),
        output_per_mtok=Decimal("0.60"),
        batch_multiplier=Decimal("0.5"),
    )
    live = charge(_event(), price)
    line = charge(_event(batch_id="batch_1"), price)
    assert line.cost == live.cost / 2
    unset = price.model_copy(update={"batch_multiplier": None})
    assert charge(_event(batch_id="batch_1"), unset).cost == live.cost


def test_an_estimate_is_never_priced_as_real_its_price_is_kept_apart() -> None:
    price = Price(model="gpt-4o-mini", input_per_mtok=Decimal("1"), output_per_mtok=Decimal("2"))
    real = charge(_event(), price)

    estimated = charge(_event(usage_estimated=True), price)

    assert real.cost == (12 * Decimal(1) + 30 * Decimal(2)) / 1_000_000
    assert estimated == Charge(Decimal(0), "USD", "", False, estimated_cost=real.cost)


def test_the_routers_event_outranks_the_edges_estimate() -> None:
    router = dict(zip(USAGE_COLUMNS, usage_row(_event(), UNPRICED), strict=True))
    edge = dict(
        zip(USAGE_COLUMNS, usage_row(_event(source=UsageSource.EDGE), UNPRICED), strict=True)
    )
    assert router["source_rank"] > edge["source_rank"]


def test_usage_row_is_identical_for_every_copy_of_an_event() -> None:
    # ReplacingMergeTree collapses copies only when their sort key matches exactly.
    assert usage_row(_event(), UNPRICED) == usage_row(_event(), UNPRICED)


def test_usage_row_keeps_missing_ttft_null() -> None:
    row = dict(zip(USAGE_COLUMNS, usage_row(_event(ttft_ms=None), UNPRICED), strict=True))

    assert row["ttft_ms"] is None


def test_usage_row_clamps_numbers_to_the_column_types() -> None:
    event = _event(status_code=70_000, prompt_tokens=-5, completion_tokens=2**40)
    row = dict(zip(USAGE_COLUMNS, usage_row(event, UNPRICED), strict=True))

    assert (row["status_code"], row["prompt_tokens"], row["completion_tokens"]) == (
        65_535,
        0,
        2**32 - 1,
    )


def test_ms_to_datetime_is_utc_with_millisecond_precision() -> None:
    assert ms_to_datetime(1_500) == datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=UTC)


def test_to_usage_row_reads_the_selected_columns_in_order() -> None:
    values = (
        "rid",
        1_700_000_000_123,
        "k1",
        "gpt-4o-mini",
        "openai-east",
        "openai",
        "chat_completions",
        429,
        "rate_limit_error",
        0,
        0,
        0,
        3.5,
        None,
        False,
        True,
        "u1",
        "t1",
        "o1",
        1,
        2,
        3,
        "0.0042",
        "USD",
        "v7",
        False,
        "gpt-4o-mini-2024-07-18",
        "rate_limit_exceeded",
        "gpt-4o",
        "k2",
        ["a:upstream_error", "b:ok"],
        1,
        1,
        "4bf92f3577b34da6a3ce929d0e0e4736",
        4,
        61.5,
        120,
        "batch_0123",
        "0.0001",
    )

    assert to_usage_row(values) == UsageRow(
        request_id="rid",
        received_at_ms=1_700_000_000_123,
        key_id="k1",
        model_alias="gpt-4o-mini",
        deployment="openai-east",
        provider="openai",
        endpoint="chat_completions",
        status_code=429,
        error_type="rate_limit_error",
        prompt_tokens=0,
        completion_tokens=0,
        total_tokens=0,
        latency_ms=3.5,
        ttft_ms=None,
        stream=False,
        usage_estimated=True,
        user_id="u1",
        team_id="t1",
        org_id="o1",
        cached_read_tokens=1,
        cache_write_tokens=2,
        reasoning_tokens=3,
        cost="0.0042",
        currency="USD",
        price_version="v7",
        unpriced=False,
        upstream_model="gpt-4o-mini-2024-07-18",
        error_code="rate_limit_exceeded",
        served_model="gpt-4o",
        credential="k2",
        attempts=["a:upstream_error", "b:ok"],
        retries=1,
        fallbacks=1,
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        images=4,
        audio_seconds=61.5,
        characters=120,
        batch_id="batch_0123",
        estimated_cost="0.0001",
    )


def test_body_row_round_trips_through_the_selected_columns() -> None:
    event = BodyEvent(
        request_id="r1",
        received_at_ms=1_700_000_000_123,
        principal=Principal(key_id="k1", user_id="u1", team_id="t1", org_id="o1"),
        model_alias="demo",
        endpoint=Endpoint.CHAT_COMPLETIONS,
        stream=True,
        status_code=200,
        request_body='{"a":"[REDACTED:email]"}',
        response_body="hello",
        response_truncated=True,
        redactions={"email": 1},
    )
    row = body_row(event)
    assert len(row) == len(BODY_COLUMNS) == len(BODY_SELECT)
    assert row[1] == datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)
    # What ClickHouse gives back for those columns: the time as Unix ms, the rest as stored.
    assert to_body_event([row[0], 1_700_000_000_123, *row[2:]]) == event


def test_alert_row_keeps_amounts_exact_and_survives_bad_ones() -> None:
    alert = Alert(
        alert_id="tw:{org:o}:team:t:bud:b1:1700000000:soft",
        kind=AlertKind.BUDGET_SOFT,
        at_ms=1_700_000_000_123,
        message="m",
        owner="team 't'",
        budget_id="b1",
        period_start=1_700_000_000,
        limit="100",
        spent="81.25",
        currency="USD",
    )
    row = dict(zip(ALERT_COLUMNS, alert_row(alert), strict=True))
    assert (row["limit_amount"], row["spent"]) == (Decimal("100"), Decimal("81.25"))
    assert row["period_start"] == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert row["kind"] == "budget_soft_limit"
    broken = dict(
        zip(ALERT_COLUMNS, alert_row(alert.model_copy(update={"spent": "x"})), strict=True)
    )
    assert broken["spent"] == Decimal(0)
