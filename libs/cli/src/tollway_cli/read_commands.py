"""The read commands: `requests`, `request <id>`, `usage`, `models`, `keys list|show`. Each asks
the admin API once and prints its answer as a table (`read_views.py`) or, with `--output json`,
as the API gave it."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping
from typing import Any

from tollway_cli import read_views
from tollway_cli.admin_client import AdminClient
from tollway_cli.command_line import Parser
from tollway_cli.output import FORMATS
from tollway_cli.timespec import BadTime, to_millis
from tollway_common.ids import REQUEST_ID_PATTERN

# What `usage --group-by` takes (the analytics API's dimensions).
GROUP_BY = (
    "key_id",
    "user_id",
    "team_id",
    "org_id",
    "model_alias",
    "provider",
    "deployment",
    "credential",
)
MAX_REQUESTS = 500

Renderer = Callable[[Mapping[str, Any]], str]


def output_options() -> Parser:
    """`--output table|json`, shared by every read command."""
    options = Parser(add_help=False)
    options.add_argument(
        "--output",
        choices=FORMATS,
        default="table",
        help="table for people (default), json: the admin API's answer as it came",
    )
    return options


def _time(value: str) -> int:
    try:
        return to_millis(value, time.time())
    except BadTime as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _limit(value: str) -> int:
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_REQUESTS:
        raise argparse.ArgumentTypeError(f"give a number from 1 to {MAX_REQUESTS}")
    return limit


def _request_id(value: str) -> str:
    if value and not REQUEST_ID_PATTERN.match(value):
        raise argparse.ArgumentTypeError(
            "a request id holds 1-128 letters, digits and . _ : - (as in x-request-id)"
        )
    return value


def _time_range(parser: argparse.ArgumentParser, default_since: str | None) -> None:
    parser.add_argument(
        "--since",
        type=_time,
        default=_time(default_since) if default_since else 0,
        help="a span back from now (15m, 24h, 7d) or an ISO 8601 date"
        + (f"; default {default_since}" if default_since else ""),
    )
    parser.add_argument("--until", type=_time, default=0, help="as --since; default now")


def add_read_commands(commands: argparse._SubParsersAction[Parser], parents: list[Parser]) -> None:
    requests = commands.add_parser(
        "requests", help="search recent requests (newest first)", parents=parents
    )
    requests.add_argument("--key", default="", help="a key id")
    requests.add_argument("--model", default="", help="a model alias")
    requests.add_argument("--team", default="", help="a team id")
    requests.add_argument(
        "--status", default="", help="a code (429) or a class: 2xx, 4xx, 5xx, ok, error"
    )
    requests.add_argument(
        "--request-id", type=_request_id, default="", help="the start of a request id"
    )
    requests.add_argument("--limit", type=_limit, default=50, help="rows per page (1-500)")
    requests.add_argument("--cursor", default="", help="the next page, as the last one said")
    _time_range(requests, None)

    request = commands.add_parser(
        "request",
        help="one request: attempts, timings, usage, cost and the redacted bodies",
        parents=parents,
    )
    request.add_argument(
        "request_id", type=_request_id, help="as in a response's x-request-id header"
    )

    usage = commands.add_parser(
        "usage", help="requests, tokens and cost, grouped and over time", parents=parents
    )
    usage.add_argument("--group-by", choices=GROUP_BY, default="", help="one dimension")
    usage.add_argument("--bucket", choices=("minute", "hour", "day"), default="")
    usage.add_argument("--key", default="", help="a key id")
    usage.add_argument("--model", default="", help="a model alias")
    usage.add_argument("--team", default="", help="a team id")
    usage.add_argument("--limit", type=_limit, default=100, help="rows (1-500)")
    _time_range(usage, "24h")

    commands.add_parser("models", help="the model catalog", parents=parents)


def _without_empty(params: Mapping[str, object]) -> dict[str, object]:
    return {name: value for name, value in params.items() if value not in ("", 0, None)}


def read(client: AdminClient, args: argparse.Namespace) -> tuple[Any, Renderer]:
    """Ask admin for what `args` names; the answer and how it reads as a table."""
    if args.command == "requests":
        params = {
            "key_id": args.key,
            "model_alias": args.model,
            "team_id": args.team,
            "status": args.status,
            "request_id": args.request_id,
            "limit": args.limit,
            "cursor": args.cursor,
            "since_ms": args.since,
            "until_ms": args.until,
        }
        answer = client.call("GET", "/api/v1/requests", params=_without_empty(params))
        return answer, read_views.requests_table
    if args.command == "request":
        return client.call("GET", f"/api/v1/requests/{args.request_id}"), read_views.request_page
    if args.command == "usage":
        params = {
            "group_by": args.group_by,
            "bucket": args.bucket,
            "key_id": args.key,
            "model_alias": args.model,
            "team_id": args.team,
            "since_ms": args.since,
            "until_ms": args.until,
            "limit": args.limit,
            "order_by": "time" if args.bucket else "cost",
        }
        answer = client.call("GET", "/api/v1/usage/summary", params=_without_empty(params))
        return answer, lambda a: read_views.usage_table(a, args.group_by, bool(args.bucket))
    if args.command == "models":
        return client.call("GET", "/api/v1/models"), read_views.models_table
    if args.action == "list":
        return client.call("GET", "/api/v1/keys"), read_views.keys_table
    return client.call("GET", f"/api/v1/keys/{args.key_id}"), read_views.key_facts
