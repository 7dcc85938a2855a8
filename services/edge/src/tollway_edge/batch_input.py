"""Read a batch's input file (JSONL) and check every line before any is queued (pure; the
`routes/batches.py` beside it supplies the caller's checks and does the I/O).

A line is `{"custom_id", "method": "POST", "url": <the batch's endpoint>, "body": {...}}`.
Its body gets the checks a live request to that endpoint gets (`body.parse_body`), then
`check_body` - the same admission and catalog lookup as live requests. Every bad line is
reported by number, so a client fixes the file in one go.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from tollway_common.contract import Endpoint, RequestFacts
from tollway_common.errors import InvalidRequest, TollwayError
from tollway_edge.body import Head, parse_body

MAX_CUSTOM_ID_CHARS = 512
# How many bad lines one refusal names; the count says how many there were in all.
MAX_REPORTED = 20


@dataclass(frozen=True, slots=True)
class Admitted:
    """What the caller's checks decided about one line's body: the alias that serves it, the
    facts, and the body to send (with any bound the checks wrote into it)."""

    alias: str
    facts: RequestFacts
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CheckedLine:
    line_no: int
    custom_id: str
    alias: str
    facts: RequestFacts
    body: dict[str, Any]


CheckBody = Callable[[dict[str, Any], Head], Admitted]


def read_lines(
    raw: bytes,
    url: str,
    endpoint: Endpoint,
    check_body: CheckBody,
    *,
    max_lines: int,
    max_depth: int = 64,
) -> list[CheckedLine]:
    """Every line of `raw` checked, or InvalidRequest naming the bad ones by line number."""
    lines: list[CheckedLine] = []
    problems: list[str] = []
    seen: set[str] = set()
    numbered = [(number, text) for number, text in enumerate(raw.split(b"\n"), 1) if text.strip()]
    if not numbered:
        raise InvalidRequest("The input file has no requests.", param="input_file_id")
    if len(numbered) > max_lines:
        raise InvalidRequest(
            f"The input file has {len(numbered)} requests; a batch may have at most {max_lines}.",
            param="input_file_id",
        )
    for number, text in numbered:
        try:
            line = _check_line(number, text, url, endpoint, check_body, max_depth)
        except TollwayError as exc:
            problems.append(f"line {number}: {exc.message}")
            continue
        if line.custom_id in seen:
            problems.append(f"line {number}: custom_id '{line.custom_id}' is used by another line")
            continue
        seen.add(line.custom_id)
        lines.append(line)
    if problems:
        shown = "; ".join(problems[:MAX_REPORTED])
        more = f" (and {len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED else ""
        raise InvalidRequest(
            f"The input file has {len(problems)} invalid line(s): {shown}{more}.",
            param="input_file_id",
            code="invalid_batch_input",
        )
    return lines


def _check_line(
    number: int,
    text: bytes,
    url: str,
    endpoint: Endpoint,
    check_body: CheckBody,
    max_depth: int,
) -> CheckedLine:
    try:
        line = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise InvalidRequest("not valid JSON") from None
    if not isinstance(line, dict):
        raise InvalidRequest("must be a JSON object")
    custom_id = line.get("custom_id")
    if not isinstance(custom_id, str) or not 0 < len(custom_id) <= MAX_CUSTOM_ID_CHARS:
        raise InvalidRequest(f"custom_id must be a string of 1 to {MAX_CUSTOM_ID_CHARS} characters")
    if line.get("method") != "POST":
        raise InvalidRequest("method must be POST")
    if line.get("url") != url:
        raise InvalidRequest(f"url must be the batch's endpoint {url}")
    body = line.get("body")
    if not isinstance(body, dict):
        raise InvalidRequest("body must be a JSON object")
    if body.get("stream") is True:
        raise InvalidRequest("a batch request cannot stream; leave out 'stream'")
    body, head = parse_body(orjson.dumps(body), endpoint, max_depth)
    admitted = check_body(body, head)
    return CheckedLine(number, custom_id, admitted.alias, admitted.facts, admitted.body)
