from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.types import Message

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


async def _sent(events: list[bytes]) -> list[tuple[bytes, bool]]:
    async def stream() -> AsyncIterator[bytes]:
        for item in events:
            yield item

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    closed: list[bool] = []
    await sse.SseResponse(stream(), lambda: closed.append(True))({}, receive, send)
    assert sent[0]["type"] == "http.response.start"
    assert closed == [True]
    return [(message["body"], message["more_body"]) for message in sent[1:]]


async def test_done_ends_the_body_in_the_same_message() -> None:
    first = sse.event(b"{}")
    assert await _sent([first, sse.DONE]) == [(first, True), (sse.DONE, False)]


async def test_a_stream_without_done_ends_with_an_empty_message() -> None:
    first = sse.event(b"{}")
    assert await _sent([first]) == [(first, True), (b"", False)]
