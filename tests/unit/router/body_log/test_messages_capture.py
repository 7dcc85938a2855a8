"""A Messages stream is logged as the text and tool input its events spelled out, not as the
frames themselves."""

from __future__ import annotations

from tests.support import fixtures

from tollway_common.anthropic_sse import frame
from tollway_router.body_log.capture import stream_text
from tollway_router.upstream.sse_decoder import SseDecoder


def _frames(case: str) -> list[bytes]:
    raw = fixtures.load_bytes("anthropic", case, "stream.sse")
    return [frame(event.event or "", event.data.encode()) for event in SseDecoder().feed(raw)]


def test_a_messages_stream_is_logged_as_its_text_and_tool_input() -> None:
    assert stream_text(_frames("tool_calls_stream")) == (
        "Checking both cities."
        '\n[tool_call get_weather] {"city": "Oslo"}'
        '\n[tool_call get_weather] {"city": "Paris"}'
    )


def test_thinking_and_signatures_stay_out_of_the_log() -> None:
    text = stream_text(_frames("thinking_stream"))
    assert "31²" not in text
    assert "EqQB" not in text
    assert text
