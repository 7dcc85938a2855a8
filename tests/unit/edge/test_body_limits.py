from __future__ import annotations

import pytest

from tollway_common.contract import Endpoint
from tollway_common.errors import InvalidRequest
from tollway_edge.body import parse_body, too_deep


def _nested(depth: int) -> bytes:
    inner = b"[" * (depth - 1) + b"]" * (depth - 1)
    return b'{"model": "m", "messages": [{"role": "user"}], "x": ' + inner + b"}"


def test_depth_counts_the_body_as_level_one() -> None:
    assert not too_deep({}, 1)
    assert too_deep({"a": []}, 1)
    assert not too_deep({"a": [[]]}, 3)
    assert too_deep({"a": [[{}]]}, 3)


def test_deep_nesting_is_refused_with_the_limit_named() -> None:
    parse_body(_nested(64), Endpoint.CHAT_COMPLETIONS, max_depth=64)
    with pytest.raises(InvalidRequest, match="more than 64 levels"):
        parse_body(_nested(65), Endpoint.CHAT_COMPLETIONS, max_depth=64)


def test_nesting_far_beyond_any_recursion_limit_is_a_400() -> None:
    with pytest.raises(InvalidRequest):
        parse_body(_nested(1000), Endpoint.CHAT_COMPLETIONS, max_depth=64)


def test_a_non_numeric_token_field_is_a_400() -> None:
    raw = b'{"model": "m", "messages": [{"role": "user"}], "max_completion_tokens": "abc"}'
    with pytest.raises(InvalidRequest) as caught:
        parse_body(raw, Endpoint.CHAT_COMPLETIONS)
    assert caught.value.param == "max_completion_tokens"
