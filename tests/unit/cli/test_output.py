"""How read commands print: aligned tables, one-line cells, facts, and each command's layout."""

from __future__ import annotations

from tollway_cli.output import facts, field, table, text, utc
from tollway_cli.read_views import request_page, requests_table, usage_table

REQUEST = {
    "request_id": "0192f0c4-aaaa-7000-8000-000000000001",
    "received_at_ms": 1_765_000_000_123,
    "status_code": 502,
    "error_code": "upstream_error",
    "model_alias": "gpt-test",
    "key_id": "key_a",
    "deployment": "",
    "prompt_tokens": 3,
    "completion_tokens": 0,
    "cost": "0",
    "currency": "USD",
    "unpriced": False,
    "latency_ms": 12.25,
}


def test_a_table_pads_every_column_to_its_widest_cell() -> None:
    rows: list[dict[str, object]] = [{"a": "x", "b": 1}, {"a": "longer", "b": None}]
    assert table(rows, [field("A", "a"), field("BEE", "b")]) == (
        "A       BEE\nx       1\nlonger  -\n"
    )


def test_cells_are_one_line_and_say_nothing_plainly() -> None:
    assert [text(v) for v in (None, "", [], True, 1.25, ["a", "b"], {"b": 1})] == [
        "-",
        "-",
        "-",
        "yes",
        "1.2",
        "a, b",
        '{"b":1}',
    ]
    assert text("two\nlines") == "two lines"


def test_times_are_utc_and_zero_is_nothing() -> None:
    assert utc(1_765_000_000_123) == "2025-12-06 05:46:40"
    assert utc(0) == "-"
    assert utc(None) == "-"


def test_facts_align_their_labels() -> None:
    assert facts([("a", 1), ("long", "x")]) == "a:    1\nlong: x\n"


def test_the_requests_table_says_how_to_get_the_next_page() -> None:
    printed = requests_table({"data": [REQUEST], "next_cursor": "1765000000123_abc"})
    header, row, more = printed.splitlines()
    assert header.split()[:4] == ["WHEN", "(UTC)", "REQUEST", "ID"]
    assert row.split() == [
        "2025-12-06",
        "05:46:40",
        REQUEST["request_id"],
        "502",
        "upstream_error",
        "gpt-test",
        "key_a",
        "-",
        "3/0",
        "0",
        "USD",
        "12.2",
    ]
    assert more == "more: add --cursor 1765000000123_abc"


def test_the_usage_table_shows_the_bucket_and_group_asked_for() -> None:
    row = {"bucket_ms": 1_765_000_000_000, "group": "ml", "requests": 2, "cost": "0.5"}
    printed = usage_table({"data": [row]}, "team_id", bucketed=True).splitlines()
    assert printed[0].split()[:4] == ["BUCKET", "(UTC)", "TEAM_ID", "REQUESTS"]
    assert printed[1].split()[:4] == ["2025-12-06", "05:46:40", "ml", "2"]
    plain = usage_table({"data": [row]}, "", bucketed=False).splitlines()
    assert plain[0].split()[0] == "REQUESTS"


def test_a_request_page_shows_usage_attempts_and_the_bodies() -> None:
    answer = {
        "request_id": REQUEST["request_id"],
        "usage": REQUEST,
        "timings": {"latency_ms": 12.25, "ttft_ms": None, "upstream_latency_ms": 9.0},
        "attempts": [{"deployment": "east", "credential": "", "outcome": "upstream_error"}],
        "events": [{"source": "router", "router_id": "r1", "status_code": 502}],
        "body": {
            "request_body": '{"q": "[REDACTED:email]"}',
            "response_body": "",
            "request_truncated": True,
            "redactions": {"email": 1},
        },
    }
    printed = request_page(answer)
    assert f"request:     {REQUEST['request_id']}\n" in printed
    assert "status:      502 upstream_error\n" in printed
    assert "upstream ms: 9.0\n" in printed
    assert (
        "\nattempts\nDEPLOYMENT  CREDENTIAL  OUTCOME\neast        -           upstream_error\n"
        in (printed)
    )
    assert '\nrequest body (redacted, cut)\n{"q": "[REDACTED:email]"}\n' in printed
    assert 'redactions: {"email":1}' in printed


def test_a_request_page_without_bodies_says_why() -> None:
    printed = request_page({"request_id": "r", "usage": REQUEST, "attempts": [], "body": None})
    assert printed.endswith("no bodies stored (the caller's policy does not log them)\n")
