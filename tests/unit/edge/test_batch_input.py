"""A batch's input file is checked line by line before any line is queued: the line's frame
(custom_id, method, url), its body as a live request's body, and the caller's policy through
the same admission live requests get; bad lines are named by number."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tollway_common.contract import Endpoint, Principal
from tollway_common.control import Policy
from tollway_common.errors import InvalidRequest, ModelNotFound
from tollway_edge.admission import admit
from tollway_edge.auth import Caller
from tollway_edge.batch_input import MAX_REPORTED, Admitted, CheckedLine, read_lines
from tollway_edge.body import Head
from tollway_edge.policy import Level
from tollway_edge.request_facts import read_facts, upstream_body

URL = "/v1/chat/completions"
CALLER = Caller(
    principal=Principal(key_id="key_1"),
    levels=(Level("key 'app'", Policy(deny_models=["denied"], max_tokens_cap=256)),),
)
KNOWN = {"demo", "other", "denied"}


def _check(body: dict[str, Any], head: Head) -> Admitted:
    """What the route does: admission as for a live request, then the catalog lookup."""
    asked = read_facts(Endpoint.CHAT_COMPLETIONS, body)
    facts = admit(CALLER, Endpoint.CHAT_COMPLETIONS, head.model, asked)
    if head.model not in KNOWN:
        raise ModelNotFound(f"The model '{head.model}' does not exist.")
    return Admitted(head.model, facts, upstream_body(body, Endpoint.CHAT_COMPLETIONS, asked, facts))


def _line(custom_id: str = "a", model: str = "demo", **frame: Any) -> dict[str, Any]:
    body = {"model": model, "messages": [{"role": "user", "content": "hello there"}]}
    return {"custom_id": custom_id, "method": "POST", "url": URL, "body": body, **frame}


def _file(*lines: Any) -> bytes:
    return b"\n".join(line if isinstance(line, bytes) else orjson.dumps(line) for line in lines)


def _read(raw: bytes, max_lines: int = 100) -> list[CheckedLine]:
    return read_lines(raw, URL, Endpoint.CHAT_COMPLETIONS, _check, max_lines=max_lines)


def test_good_lines_carry_their_alias_facts_and_the_body_to_send() -> None:
    lines = _read(_file(_line("a"), b"", _line("b", "other")) + b"\r\n")
    assert [(line.line_no, line.custom_id, line.alias) for line in lines] == [
        (1, "a", "demo"),
        (3, "b", "other"),
    ]
    # The policy cap bounds a line that named no max_tokens, as it bounds a live request.
    assert lines[0].facts.max_tokens == 256
    assert lines[0].body["max_completion_tokens"] == 256


def test_every_bad_line_is_named_by_its_number() -> None:
    raw = _file(
        _line("a"),
        _line("a"),
        _line("c", method="GET"),
        _line("d", url="/v1/embeddings"),
        {**_line("e"), "body": []},
        _line("f", "denied"),
        _line("g", "missing"),
        b"{not json",
        b"[1]",
        {**_line("j"), "custom_id": ""},
        {**_line("k"), "body": {"model": "demo", "messages": []}},
        {**_line("l"), "body": {**_line()["body"], "stream": True}},
    )
    with pytest.raises(InvalidRequest) as refused:
        _read(raw)
    message = refused.value.message
    assert refused.value.code_override == "invalid_batch_input"
    assert refused.value.param == "input_file_id"
    assert "line 1:" not in message
    for number in range(2, 13):
        assert f"line {number}:" in message
    assert "custom_id 'a' is used by another line" in message
    assert "method must be POST" in message
    assert f"url must be the batch's endpoint {URL}" in message
    assert "model_not_allowed" not in message
    assert "'denied'" in message
    assert "'missing' does not exist" in message
    assert "cannot stream" in message


def test_a_long_list_of_bad_lines_is_cut_with_a_count() -> None:
    raw = _file(*(_line(f"x{n}", method="GET") for n in range(MAX_REPORTED + 5)))
    with pytest.raises(InvalidRequest) as refused:
        _read(raw)
    assert f"has {MAX_REPORTED + 5} invalid line(s)" in refused.value.message
    assert "(and 5 more)" in refused.value.message


@pytest.mark.parametrize(
    ("raw", "message"),
    [(b"", "has no requests"), (b"\n \n", "has no requests")],
)
def test_an_empty_file_is_refused(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        _read(raw)


def test_a_file_over_the_line_limit_is_refused_before_any_line_is_read() -> None:
    with pytest.raises(InvalidRequest, match="at most 2"):
        _read(_file(_line("a"), _line("b"), b"{not even json"), max_lines=2)


def test_a_body_nested_too_deep_is_refused() -> None:
    nested: Any = "x"
    for _ in range(70):
        nested = [nested]
    line = _line("deep")
    line["body"]["metadata_blob"] = nested
    with pytest.raises(InvalidRequest, match="line 1: Request body nests"):
        _read(_file(line))


def test_responses_lines_are_checked_as_live_responses_requests() -> None:
    def check(body: dict[str, Any], head: Head) -> Admitted:
        asked = read_facts(Endpoint.RESPONSES, body)
        facts = admit(CALLER, Endpoint.RESPONSES, head.model, asked)
        return Admitted(head.model, facts, upstream_body(body, Endpoint.RESPONSES, asked, facts))

    url = "/v1/responses"
    good = {
        "custom_id": "r",
        "method": "POST",
        "url": url,
        "body": {"model": "demo", "input": "hi"},
    }
    bad = {**good, "custom_id": "s", "body": {"model": "demo", "input": "hi", "stream": True}}
    (line,) = read_lines(_file(good), url, Endpoint.RESPONSES, check, max_lines=10)
    # The policy cap becomes the line's max_output_tokens, as for a live Responses request.
    assert line.body["max_output_tokens"] == 256
    with pytest.raises(InvalidRequest, match="line 2:"):
        read_lines(_file(good, bad), url, Endpoint.RESPONSES, check, max_lines=10)
