from __future__ import annotations

from tollway_common.openai_errors import OpenAIErrorBody
from tollway_edge import sse


def test_chunks_are_framed_as_data_events() -> None:
    assert sse.event(b'{"a":1}') == b'data: {"a":1}\n\n'
    assert sse.DONE == b"data: [DONE]\n\n"


def test_error_event_is_openai_error_json() -> None:
    body = OpenAIErrorBody(message="gone", type="server_error", code="router_lost")
    assert sse.error_event(body) == (
        b'data: {"error":{"message":"gone","type":"server_error","param":null,'
        b'"code":"router_lost"}}\n\n'
    )
