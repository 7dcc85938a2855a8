"""The body log of a Messages stream: the events the router sent, spelled out as the answer
(its text, then each tool call), redacted like a chat stream's."""

from __future__ import annotations

from tests.support import fixtures
from tests.support.messages_over_chat import infer_for, replay

from tollway_common.providers import Provider
from tollway_router.body_log.capture import BodyCapture, body_event, stream_text
from tollway_router.body_log.redaction import Redactor
from tollway_router.providers import REGISTRY

ASKED = {
    "model": "m",
    "max_tokens": 100,
    "stream": True,
    "messages": [{"role": "user", "content": "Weather in Oslo? I am ann@example.com"}],
}


def _frames() -> list[bytes]:
    recorded = fixtures.load_bytes("openai", "reasoning_tool_stream", "stream.sse")
    return [chunk.data for chunk in replay(REGISTRY[Provider.OPENAI], ASKED, recorded)]


def test_a_messages_stream_is_spelled_out_as_its_text_then_its_tool_calls() -> None:
    assert stream_text(_frames()) == 'Let me check.\n[tool_call get_weather] {"city": "Oslo"}'


def test_a_messages_stream_is_logged_redacted() -> None:
    capture = BodyCapture(limit=100_000)
    for frame in _frames():
        capture.add(frame)
    event = body_event(infer_for(ASKED), capture, 200, Redactor(), 10_000)
    assert event.response_body == 'Let me check.\n[tool_call get_weather] {"city": "Oslo"}'
    assert "ann@example.com" not in event.request_body
